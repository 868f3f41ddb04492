"""``archive backup create DIR`` / ``archive backup restore DIR``: the catalog and the keys, together.

The catalog holds the evidence logs and the signing key ring (private halves encrypted with the
credentials key); the credentials key (and the media-link key) are files under ``data_dir/keys``.
Losing ``var/`` loses both, so a backup holds both (every file mode 0600 in a 0700 folder)::

    DIR/manifest.json        what is inside: sha256 and size of each file, catalog kind, time
    DIR/catalog.sqlite3      SQLite: a copy by SQLite's online backup API (consistent while in use)
    DIR/catalog.pgdump       PostgreSQL: ``pg_dump --format=custom`` (pg_dump must be on PATH)
    DIR/keys/credentials.key, DIR/keys/<other files of data_dir/keys>

A restore never rolls an evidence log back (:mod:`archive.bootstrap.restore_check`): the backup's
catalog is first staged beside the live one and checked against the checkpoints published in the
log bucket; only when every camera log passes is it put in place (the replaced catalog and keys
are kept beside, named ``*.before-restore-<time>``). Refusals and bad input raise UserError.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from archive.config import Config
from archive.errors import ArchiveError, UserError

__all__ = [
    "MANIFEST",
    "BackupFile",
    "BackupManifest",
    "create_backup",
    "key_files",
    "libpq_url",
    "pg_tool",
    "read_backup",
    "run_pg",
    "sqlite_path",
]

MANIFEST = "manifest.json"
SQLITE_COPY = "catalog.sqlite3"
PG_DUMP = "catalog.pgdump"
FORMAT = "archive-backup/1"


@dataclass(frozen=True)
class BackupFile:
    """One file of a backup, relative to its folder."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BackupManifest:
    """What a backup holds (``manifest.json``)."""

    created_utc: str
    catalog: str  # "sqlite" or "postgresql"
    files: tuple[BackupFile, ...]

    def file(self, name: str) -> BackupFile | None:
        """The entry of ``name``, or None."""
        return next((f for f in self.files if f.name == name), None)


def sqlite_path(cfg: Config) -> Path | None:
    """The SQLite catalog file of ``cfg``, or None for PostgreSQL."""
    url = cfg.catalog_url
    if not url.startswith("sqlite"):
        return None
    return Path(url.split(":///", 1)[1])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _private_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
        shutil.copyfileobj(fh, out)
        out.flush()
        os.fsync(out.fileno())


def key_files(cfg: Config) -> dict[str, Path]:
    """Backup name -> live path of every key file: the credentials key and the files of data_dir/keys."""
    found = {f"keys/{p.name}": p for p in sorted((cfg.data_dir / "keys").glob("*")) if p.is_file()}
    found["keys/credentials.key"] = cfg.credentials_key_file
    return found


def _sqlite_backup(src: Path, dest: Path) -> None:
    """Copy a live SQLite database with its online backup API into ``dest`` (mode 0600)."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(dest)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot copy the SQLite catalog {src}: {exc}") from exc


def pg_tool(name: str) -> str:
    """Path of ``pg_dump`` / ``pg_restore``. Raises UserError when it is not on PATH."""
    found = shutil.which(name)
    if found is None:
        raise UserError(f"{name} is not on PATH: install the PostgreSQL client (Debian: postgresql-client) "
                        f"to back up or restore a PostgreSQL catalog")  # fmt: skip
    return found


def libpq_url(url: str) -> str:
    """``url`` as the PostgreSQL client tools take it (no SQLAlchemy driver suffix)."""
    head, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and head.startswith("postgres") else url


def run_pg(argv: list[str], what: str) -> None:
    """Run a PostgreSQL client tool; ArchiveError with its last stderr line when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ArchiveError(f"{what} failed (exit {done.returncode}): {last}")


def preflight(cfg: Config, dest: Path) -> tuple[dict[str, Path], Path | None, str]:
    """Check that a backup into ``dest`` can be made: (key files, SQLite catalog or None, pg_dump path
    or ""). Raises UserError when ``dest`` exists and is not empty, the catalog or a key file is
    missing, or pg_dump is needed and not on PATH."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} exists and is not an empty folder: a backup goes into a new folder")
    keys = key_files(cfg)
    for path in keys.values():
        if not path.is_file():
            raise UserError(f"no key file at {path}: nothing to back up (run 'archive init' first)")
    db = sqlite_path(cfg)
    if db is not None and not db.is_file():
        raise UserError(f"no SQLite catalog at {db}")
    return keys, db, pg_tool("pg_dump") if db is None else ""


def create_backup(cfg: Config, dest: Path) -> BackupManifest:
    """Write a backup of the catalog and the keys into the new folder ``dest``.

    Raises UserError as :func:`preflight`; ArchiveError when a copy fails.
    """
    keys, db, dump = preflight(cfg, dest)
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    dest.chmod(0o700)
    if db is not None:
        _sqlite_backup(db, dest / SQLITE_COPY)
        names = [SQLITE_COPY]
    else:
        fd = os.open(dest / PG_DUMP, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        run_pg(
            [dump, "--format=custom", "--no-owner", f"--file={dest / PG_DUMP}", libpq_url(cfg.catalog_url)], "pg_dump"
        )
        names = [PG_DUMP]
    for name, path in keys.items():
        _private_copy(path, dest / name)
        names.append(name)
    files = tuple(BackupFile(n, _sha256(dest / n), (dest / n).stat().st_size) for n in names)
    manifest = BackupManifest(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sqlite" if db else "postgresql",
                              files)  # fmt: skip
    _write_manifest(dest, manifest)
    return manifest


def _write_manifest(dest: Path, manifest: BackupManifest) -> None:
    doc = {"format": FORMAT, "created_utc": manifest.created_utc, "catalog": manifest.catalog,
           "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in manifest.files]}  # fmt: skip
    fd = os.open(dest / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def _files(doc: object, src: Path) -> Iterable[BackupFile]:
    try:
        for f in doc["files"]:  # type: ignore[index]
            name = str(f["name"])
            if name.startswith("/") or ".." in Path(name).parts:
                raise UserError(f"{src / MANIFEST}: unsafe file name {name!r}")
            yield BackupFile(name, str(f["sha256"]), int(f["size"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{src / MANIFEST} is malformed: {exc}") from exc


def read_backup(src: Path) -> BackupManifest:
    """The manifest of the backup in ``src``, after checking every file's size and SHA-256.

    Raises UserError naming the first missing or altered file, or a malformed manifest.
    """
    try:
        doc = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"{src} is not a backup: no {MANIFEST}") from exc
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {src / MANIFEST}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("catalog") not in ("sqlite", "postgresql"):
        raise UserError(f"{src / MANIFEST} is not an {FORMAT} manifest")
    manifest = BackupManifest(str(doc.get("created_utc")), str(doc["catalog"]), tuple(_files(doc, src)))
    for f in manifest.files:
        path = src / f.name
        if not path.is_file():
            raise UserError(f"the backup in {src} lacks {f.name}")
        if path.stat().st_size != f.size or _sha256(path) != f.sha256:
            raise UserError(f"{path} does not match its SHA-256 in {MANIFEST}: the backup was altered or damaged")
    needed = SQLITE_COPY if manifest.catalog == "sqlite" else PG_DUMP
    if manifest.file(needed) is None or manifest.file("keys/credentials.key") is None:
        raise UserError(f"the backup in {src} lacks {needed} or keys/credentials.key")
    return manifest
