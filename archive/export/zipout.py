"""Writing the package zip in one streaming pass, hashing everything on the way.

The zip is written front to back and never sought back into: every byte is written once and
the SHA-256 of the whole package is known when the last byte is written (no second read of a
multi-gigabyte file). Members are stored (video does not compress); each member's SHA-256
and size are recorded for the manifest.

Two ways to add a member:

- :meth:`PackageWriter.add_verified`: the caller already has the member's bytes in memory
  with their SHA-256 and CRC-32 (computed once by a fetch worker, while the bytes arrived);
  the local header carries the CRC and sizes, and the bytes are only written here.
- :meth:`PackageWriter.add_stream` (``add_bytes``, ``add_file``): the bytes are hashed here as
  they pass; the header is followed by the data and a ZIP64 data descriptor.

Every local header has a ZIP64 extra field (sizes need not be known to fit in 32 bits); the
central directory and the end records use ZIP64 only where a value needs it (APPNOTE 4.3, the
layout Python's :mod:`zipfile` writes and reads). Disk writes go straight to the file
descriptor; every ``writeback_bytes`` the kernel is told to start writing the bytes behind
(``posix_fadvise(DONTNEED)``), so the page cache does not fill with a package nobody reads
now and the one ``fsync`` at :meth:`PackageWriter.finish` has little left to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archive.integrity import IntegrityError

__all__ = ["FileRecord", "PackageWriter", "file_chunks"]

_CHUNK = 1 << 20
ZIP64_LIMIT = (1 << 31) - 1
"""Values above this go into ZIP64 fields (as :mod:`zipfile` does, for readers with signed 32-bit sizes)."""
FILECOUNT_LIMIT = 0xFFFF
_VERSION = 45  # 4.5: ZIP64
_UTF8 = 0x800
_DESCRIPTOR = 0x08
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR = struct.Struct("<4sLQL")
_END = struct.Struct("<4s4H2LH")
_DD = struct.Struct("<4sLQQ")
_X64_LOCAL = struct.Struct("<HHQQ")


@dataclass(frozen=True)
class FileRecord:
    """One package member: path inside the package folder, SHA-256 (hex), size, kind."""

    path: str
    sha256: str
    size: int
    kind: str


@dataclass(frozen=True)
class _Member:
    name: bytes
    flags: int
    crc: int
    size: int
    offset: int
    mode: int


def file_chunks(path: Path, chunk: int = _CHUNK) -> Iterable[bytes]:
    """A local file's bytes in chunks. Raises OSError."""
    with path.open("rb") as fh:
        while data := fh.read(chunk):
            yield data


class _Output:
    """The ``.part`` file: unbuffered writes, the package's SHA-256, write-behind."""

    def __init__(self, path: Path, writeback_bytes: int) -> None:
        # 0600: a package is evidence for the case's parties only, whatever the umask
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        self.sha = hashlib.sha256()
        self.pos = 0
        self._every = writeback_bytes
        self._advised = 0
        self._advise = getattr(os, "posix_fadvise", None) if writeback_bytes > 0 else None

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        self.sha.update(view)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.pos += len(data)
        if self._advise is not None and self.pos - self._advised >= self._every:
            # Start writing the bytes since the last call, and drop (now clean) pages before them.
            start = max(0, self._advised - self._every)
            self._advise(self.fd, start, self.pos - start, os.POSIX_FADV_DONTNEED)
            self._advised = self.pos


def _dos_time(t: tuple[int, ...]) -> tuple[int, int]:
    year, month, day, hour, minute, second = t[:6]
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class PackageWriter:
    """A package zip being written: ``<root>/<path>`` members; :meth:`finish` renames the
    ``.part`` file into place and returns the package's SHA-256 and size.

    Every method raises OSError when the disk fails (the caller aborts the build).
    """

    def __init__(self, path: Path, root: str, *, writeback_bytes: int = 32 << 20) -> None:
        self.path = path
        self.root = root
        self.records: list[FileRecord] = []
        self._part = path.with_name(path.name + ".part")
        self._out = _Output(self._part, writeback_bytes)
        self._members: list[_Member] = []
        self._time, self._date = _dos_time(time.gmtime())
        self._closed = False

    def _header(self, name: str, crc: int, size: int, executable: bool, descriptor: bool) -> _Member:
        raw = f"{self.root}/{name}".encode()
        flags = (_UTF8 if not raw.isascii() else 0) | (_DESCRIPTOR if descriptor else 0)
        extra = _X64_LOCAL.pack(1, 16, size, size)
        head = _LOCAL.pack(b"PK\x03\x04", _VERSION, 0, flags, 0, self._time, self._date, crc, 0xFFFFFFFF,
                           0xFFFFFFFF, len(raw), len(extra))  # fmt: skip
        m = _Member(raw, flags, crc, size, self._out.pos, 0o100000 | (0o755 if executable else 0o644))
        self._out.write(head + raw + extra)
        return m

    def _record(self, m: _Member, name: str, sha256: str, kind: str) -> FileRecord:
        self._members.append(m)
        rec = FileRecord(name, sha256, m.size, kind)
        self.records.append(rec)
        return rec

    def add_verified(self, name: str, chunks: Iterable[bytes | memoryview], kind: str, *, sha256: str, crc32: int,
                     size: int, tee: BinaryIO | None = None, tick: Callable[[int], None] | None = None,
                     executable: bool = False) -> FileRecord:  # fmt: skip
        """One member whose bytes the caller holds and has hashed: ``sha256`` (hex) and
        ``crc32`` of exactly these ``size`` bytes (the caller vouches for them; the size is
        checked). ``tee`` receives a copy of every chunk, ``tick`` its length.

        Raises:
            IntegrityError: the chunks are not ``size`` bytes (the zip is unusable: abort).
        """
        m = self._header(name, crc32, size, executable, descriptor=False)
        n = 0
        for chunk in chunks:
            self._out.write(chunk)
            n += len(chunk)
            if tee is not None:
                tee.write(chunk)
            if tick is not None:
                tick(len(chunk))
        if n != size:
            raise IntegrityError(f"package member {name}: {n} bytes written, {size} announced")
        return self._record(m, name, sha256, kind)

    def add_stream(self, name: str, chunks: Iterable[bytes | memoryview], kind: str, *,
                   tick: Callable[[int], None] | None = None, executable: bool = False) -> FileRecord:  # fmt: skip
        """One member streamed and hashed here (SHA-256 and CRC-32 as the bytes pass)."""
        m = self._header(name, 0, 0, executable, descriptor=True)
        h = hashlib.sha256()
        crc = size = 0
        for chunk in chunks:
            h.update(chunk)
            crc = zlib.crc32(chunk, crc)
            self._out.write(chunk)
            size += len(chunk)
            if tick is not None:
                tick(len(chunk))
        self._out.write(_DD.pack(b"PK\x07\x08", crc, size, size))
        return self._record(_Member(m.name, m.flags, crc, size, m.offset, m.mode), name, h.hexdigest(), kind)

    def add_bytes(self, name: str, data: bytes, kind: str, *, executable: bool = False) -> FileRecord:
        """One small member from memory."""
        return self.add_stream(name, [data], kind, executable=executable)

    def add_file(self, name: str, path: Path, kind: str, *, tick: Callable[[int], None] | None = None,
                 executable: bool = False) -> FileRecord:  # fmt: skip
        """One member streamed from a local file."""
        return self.add_stream(name, file_chunks(path), kind, tick=tick, executable=executable)

    def _central(self) -> bytes:
        parts: list[bytes] = []
        for m in self._members:
            big = [v for v in (m.size, m.size, m.offset) if v > ZIP64_LIMIT]
            extra = struct.pack(f"<HH{len(big)}Q", 1, 8 * len(big), *big) if big else b""
            size = 0xFFFFFFFF if m.size > ZIP64_LIMIT else m.size
            offset = 0xFFFFFFFF if m.offset > ZIP64_LIMIT else m.offset
            parts.append(_CENTRAL.pack(b"PK\x01\x02", _VERSION, 3, _VERSION, 0, m.flags, 0, self._time, self._date,
                                       m.crc, size, size, len(m.name), len(extra), 0, 0, 0, m.mode << 16,
                                       offset) + m.name + extra)  # fmt: skip
        return b"".join(parts)

    def _close_zip(self) -> None:
        start = self._out.pos
        self._out.write(self._central())
        end = self._out.pos
        count, size = len(self._members), end - start
        if count > FILECOUNT_LIMIT or start > ZIP64_LIMIT or size > ZIP64_LIMIT:
            self._out.write(_END64.pack(b"PK\x06\x06", 44, _VERSION, _VERSION, 0, 0, count, count, size, start))
            self._out.write(_LOCATOR.pack(b"PK\x06\x07", 0, end, 1))
            count, size, start = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(start, 0xFFFFFFFF)
        self._out.write(_END.pack(b"PK\x05\x06", 0, 0, count, count, size, start, 0))

    def finish(self) -> tuple[str, int]:
        """Write the central directory, fsync (once), rename into place; ``(sha256 hex, size)``."""
        self._close_zip()
        os.fsync(self._out.fd)
        os.close(self._out.fd)
        self._closed = True
        self._part.replace(self.path)
        return self._out.sha.hexdigest(), self._out.pos

    def abort(self) -> None:
        """Give up: close and delete the partial file (never raises)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self._out.fd)
        with contextlib.suppress(OSError):
            self._part.unlink(missing_ok=True)
