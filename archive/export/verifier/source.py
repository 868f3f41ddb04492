"""Reading a package: a zip file (as downloaded) or the folder it was unpacked into.

Member names are checked before anything is read: relative, ``/``-separated, no ``..``, no
duplicates. A zip whose members all sit in one top folder (the usual layout, ``<case>/...``)
is read from inside that folder. Stored (uncompressed) members are read straight from the
file: the SHA-256 of the manifest protects them, so zip CRCs are not recomputed.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from .formats import FormatError
from .members import check_member_name, check_one_folder

__all__ = ["CHUNK", "PackageSource", "hash_member", "open_package"]

CHUNK = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
SKIPPED_DIRS = frozenset({"__pycache__"})


class PackageSource(Protocol):
    """The files of a package by relative path."""

    label: str
    top: str | None
    """The zip's top folder (the package name); None for an unpacked folder."""

    def names(self) -> list[str]:
        """Every file's relative path (``/``-separated), sorted."""
        ...

    def size(self, name: str) -> int:
        """Size in bytes. Raises KeyError for an unknown name."""
        ...

    def chunks(self, name: str) -> Iterator[bytes]:
        """The file's bytes in chunks. Raises KeyError for an unknown name, OSError when unreadable."""
        ...

    def close(self) -> None:
        """Release the file handles."""
        ...


def _check_name(name: str) -> str:
    p = PurePosixPath(name)
    if not name or "\\" in name or p.is_absolute() or any(part in ("..", "") for part in name.split("/")):
        raise FormatError(f"unsafe member name {name!r} in the package")
    return check_member_name(name)


class ZipSource:
    """A package zip (read-only)."""

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise FormatError(f"{path} is not a readable zip file: {exc}") from exc
        infos = [i for i in self._zip.infolist() if not i.is_dir()]
        seen: set[str] = set()
        for info in infos:
            _check_name(info.filename)
            if info.filename in seen:
                raise FormatError(f"member {info.filename!r} occurs twice in the zip")
            seen.add(info.filename)
        self.top: str | None = check_one_folder([i.filename for i in infos])
        prefix = f"{self.top}/"
        self._infos = {i.filename[len(prefix) :]: i for i in infos}
        self._raw: BinaryIO = path.open("rb")

    def names(self) -> list[str]:
        """Member paths inside the package folder."""
        return sorted(self._infos)

    def size(self, name: str) -> int:
        """Uncompressed size."""
        return self._infos[name].file_size

    def chunks(self, name: str) -> Iterator[bytes]:
        """Stored members straight from the file; compressed ones through :mod:`zipfile`."""
        info = self._infos[name]
        if info.compress_type != zipfile.ZIP_STORED:
            with self._zip.open(info) as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk
            return
        self._raw.seek(info.header_offset)
        head = self._raw.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
            raise OSError(f"bad local header of {name}")
        fields = _LOCAL_HEADER.unpack(head)
        self._raw.seek(info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11])
        left = info.compress_size
        while left > 0:
            chunk = self._raw.read(min(CHUNK, left))
            if not chunk:
                raise OSError(f"{name} is cut short")
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        """Close the zip."""
        self._zip.close()
        self._raw.close()


class DirSource:
    """An unpacked package folder (``__pycache__`` folders are ignored)."""

    def __init__(self, root: Path) -> None:
        self.label = str(root)
        self.top: str | None = None  # a folder may have been renamed by whoever unpacked it
        self._root = root
        self._files: dict[str, Path] = {}
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root)
            if any(part in SKIPPED_DIRS for part in rel.parts):
                continue
            if p.is_symlink():
                raise FormatError(f"{rel.as_posix()} is a symbolic link; a package holds only regular files")
            if p.is_file():
                self._files[_check_name(rel.as_posix())] = p

    def names(self) -> list[str]:
        """Relative paths."""
        return sorted(self._files)

    def size(self, name: str) -> int:
        """File size."""
        return self._files[name].stat().st_size

    def chunks(self, name: str) -> Iterator[bytes]:
        """The file in chunks."""
        with self._files[name].open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def close(self) -> None:
        """Nothing to release."""


def open_package(path: Path) -> PackageSource:
    """A zip file or a folder. Raises FormatError (missing, unreadable, unsafe names)."""
    if path.is_dir():
        return DirSource(path)
    if not path.is_file():
        raise FormatError(f"{path} does not exist")
    return ZipSource(path)


def read_all(source: PackageSource, name: str, limit: int = 64 << 20) -> bytes:
    """A (small) file whole. Raises KeyError, OSError, FormatError (larger than ``limit``)."""
    if source.size(name) > limit:
        raise FormatError(f"{name} is larger than {limit} bytes")
    return b"".join(source.chunks(name))


def hash_member(source: PackageSource, name: str, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
    """``(hex SHA-256, size)`` of one file, reporting bytes read to ``progress``.
    Raises KeyError, OSError."""
    h = hashlib.sha256()
    n = 0
    for chunk in source.chunks(name):
        h.update(chunk)
        n += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return h.hexdigest(), n
