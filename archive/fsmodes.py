"""File modes of the service's state: nothing under the data directory is readable by group or other.

The catalog (camera rows, users, token hashes), ``status.json``, export packages (evidence),
keys and the spool are the service's alone, whatever umask it was started with (``ops/up.sh``
from a login shell has 022; only the systemd unit ``ops/archive.service`` sets ``UMask=0077``).
:func:`secure_process` is called once at the start of each long-running command (``archive up``,
``archive record``, ``archive api serve``); files that need it are also created with explicit
modes (:func:`write_private`, export packages, keys) so a library caller gets the same.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Final

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from archive.errors import ConfigError

PRIVATE_UMASK: Final = 0o077
PRIVATE_FILE: Final = 0o600
PRIVATE_DIR: Final = 0o700
_GROUP_OTHER: Final = stat.S_IRWXG | stat.S_IRWXO


def secure_process(data_dir: Path, catalog_url: str = "") -> int:
    """Set the process umask to 0o077 (children such as ffmpeg and SeaweedFS inherit it), make
    ``data_dir`` 0700, take group/other bits off everything already under it (state written by an
    earlier start under umask 022) and create a SQLite catalog file 0600 before SQLite does.
    Returns the previous umask. Raises :class:`ConfigError` when the data directory cannot be
    created or changed."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        ensure_private_dir(data_dir)
        for root, dirs, files in os.walk(data_dir):
            for name in (*dirs, *files):
                _drop_group_other(Path(root) / name)
        _create_sqlite_file(catalog_url)
    except OSError as exc:
        raise ConfigError(f"cannot make the data directory {data_dir} private: {exc.strerror or exc}") from exc
    return previous


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 and make it 0700 if it existed. Raises OSError."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically by ``data`` in a file of mode 0600 (temp file, then rename).
    Raises OSError."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def _drop_group_other(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):  # a file of a running process may go meanwhile
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & _GROUP_OTHER:
            path.chmod(stat.S_IMODE(st.st_mode) & ~_GROUP_OTHER)


def _create_sqlite_file(catalog_url: str) -> None:
    """SQLite creates its journal and WAL files with the database file's mode: 0600 it is."""
    if not catalog_url.startswith("sqlite"):
        return
    try:
        database = make_url(catalog_url).database
    except ArgumentError:
        return
    if not database or database == ":memory:":
        return
    path = Path(database)
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE))
    _drop_group_other(path)


__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "PRIVATE_UMASK", "ensure_private_dir", "secure_process", "write_private"]
