"""Writing the package zip in one streaming pass, hashing everything on the way.

The zip is written to a non-seekable sink (zip data descriptors instead of seeking back to
patch headers), so every byte is written once and the SHA-256 of the whole package is known
when the last byte is written: no second read of a multi-gigabyte file. Members are stored
(video does not compress); each member's SHA-256 and size are recorded for the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["FileRecord", "PackageWriter"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileRecord:
    """One package member: path inside the package folder, SHA-256 (hex), size, kind."""

    path: str
    sha256: str
    size: int
    kind: str


class _HashingSink:
    """A write-only, non-seekable file object that hashes what passes through."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.sha = hashlib.sha256()
        self.pos = 0

    def write(self, data: bytes) -> int:
        self._fh.write(data)
        self.sha.update(data)
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def seek(self, *_: object) -> int:
        raise OSError("not seekable")

    def flush(self) -> None:
        self._fh.flush()


class PackageWriter:
    """A package zip being written: ``<root>/<path>`` members; :meth:`finish` renames the
    ``.part`` file into place and returns the package's SHA-256 and size.

    Every method raises OSError when the disk fails (the caller aborts the build).
    """

    def __init__(self, path: Path, root: str) -> None:
        self.path = path
        self.root = root
        self.records: list[FileRecord] = []
        self._part = path.with_name(path.name + ".part")
        self._fh = self._part.open("wb")
        self._sink = _HashingSink(self._fh)
        self._zip = zipfile.ZipFile(self._sink, "w", zipfile.ZIP_STORED, allowZip64=True)  # type: ignore[call-overload]
        self._when = time.gmtime()[:6]

    def _info(self, name: str, executable: bool = False) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(f"{self.root}/{name}", date_time=self._when)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = (0o755 if executable else 0o644) << 16
        return info

    def add_chunks(self, name: str, chunks: Iterable[bytes | memoryview], kind: str, *,
                   tee: BinaryIO | None = None, tick: Callable[[int], None] | None = None,
                   executable: bool = False, digest: str | None = None) -> FileRecord:  # fmt: skip
        """Stream one member; ``tee`` receives a copy of every chunk, ``tick`` its length.
        ``digest``: the members's SHA-256, already computed by the caller from the same bytes."""
        h = hashlib.sha256() if digest is None else None
        size = 0
        with self._zip.open(self._info(name, executable), "w", force_zip64=True) as out:
            for chunk in chunks:
                out.write(chunk)
                if h is not None:
                    h.update(chunk)
                size += len(chunk)
                if tee is not None:
                    tee.write(chunk)
                if tick is not None:
                    tick(len(chunk))
        rec = FileRecord(name, h.hexdigest() if h is not None else str(digest), size, kind)
        self.records.append(rec)
        return rec

    def add_bytes(self, name: str, data: bytes, kind: str, *, executable: bool = False) -> FileRecord:
        """One small member from memory."""
        return self.add_chunks(name, [data], kind, executable=executable)

    def add_file(self, name: str, path: Path, kind: str, *, tick: Callable[[int], None] | None = None,
                 executable: bool = False) -> FileRecord:  # fmt: skip
        """One member streamed from a local file."""
        with path.open("rb") as fh:
            return self.add_chunks(name, iter(lambda: fh.read(_CHUNK), b""), kind, tick=tick, executable=executable)

    def finish(self) -> tuple[str, int]:
        """Close the zip, fsync, rename it into place; ``(sha256 hex, size)`` of the package."""
        self._zip.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._part.replace(self.path)
        return self._sink.sha.hexdigest(), self._sink.pos

    def abort(self) -> None:
        """Give up: close and delete the partial file (never raises)."""
        with contextlib.suppress(OSError, ValueError):
            self._zip.close()
        with contextlib.suppress(OSError):
            self._fh.close()
            self._part.unlink(missing_ok=True)
