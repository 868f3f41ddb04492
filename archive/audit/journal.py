"""The local audit journal: every entry's hash, fsynced outside the catalog before the answer.

SPEC.md 7.6 obligation 2 ("covered before the answer") is met by the journal: after the commit
that appended entries and before the action answers, the writer appends one line per new entry,
``<seq> <entry hash hex>\\n``, to an append-only file of the service's own (mode 0600, in the data
directory), and fsyncs it. Signed heads are published by the checkpointer at most every
``api.audit_checkpoint_seconds`` and cover the journal's lines. The verifier compares catalog,
journal and published head: a journal line whose seq the catalog does not hold, or whose hash
differs, is an erased or rewritten entry.

Several processes (the service, CLI commands) append to one journal: each append holds an
exclusive ``flock`` on the file, reads the last seq written, and writes the catalog's entries
after it, so the file's seqs only grow and every committed entry below the caller's size is in it
once the call returns.

**Bounded size.** After a signed head of size ``n`` is published, the lines of entries below ``n``
are covered by the head and no longer needed: :meth:`AuditJournal.compact` (the checkpointer
calls it once the file exceeds ``COMPACT_BYTES``) rewrites the file with the lines ``>= n`` only
(new file fsynced, renamed over the old one, directory fsynced, under the old file's lock). An
appender that opened the old file and waited for its lock sees that the path now names another
file and opens it again, so no line goes to the replaced file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from archive.errors import CatalogError, StorageError
from archive.integrity.errors import IntegrityError

__all__ = ["COMPACT_BYTES", "AuditJournal", "JournalLine"]

JournalLine = tuple[int, bytes]
"""``(seq, entry hash)`` of one journaled entry."""

_TAIL = 4096
COMPACT_BYTES = 1 << 20
"""The checkpointer compacts the journal once it is larger than this (about 15,000 lines)."""


def _last_seq(fd: int) -> int:
    """The seq of the file's last complete line (-1: empty). A torn last line (a crash while
    writing: never acknowledged) is cut off, so the next line starts on its own."""
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return -1
    start = max(0, end - _TAIL)
    tail = os.pread(fd, end - start, start)
    if not tail.endswith(b"\n"):
        cut = tail.rfind(b"\n")
        os.ftruncate(fd, start + cut + 1 if cut >= 0 else start)
        tail = tail[: cut + 1] if cut >= 0 else b""
    lines = [ln for ln in tail.split(b"\n") if ln]
    return int(lines[-1].split(b" ")[0]) if lines else -1


class AuditJournal:
    """The journal file at ``path`` (created with mode 0600 at first append). Thread- and process-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open_locked(self) -> int:
        """The journal's fd, created if missing, under an exclusive lock on the file the path names now."""
        while True:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StorageError(f"cannot open the audit journal {self.path}: {exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == self.path.stat().st_ino:
                    return fd
            except OSError as exc:
                os.close(fd)
                raise StorageError(f"cannot lock the audit journal {self.path}: {exc}") from exc
            os.close(fd)  # compacted meanwhile: open the new file

    def compact(self, covered: int, rows: Callable[[int, int], Sequence[JournalLine]]) -> bool:
        """Drop the lines of entries below ``covered`` (a published head of that size covers them),
        after checking each against the catalog (``rows``, as in :meth:`extend`): a line whose
        entry is missing or has another hash is evidence of a deletion the head may not show
        (signed after it), so nothing is dropped. True when the file was rewritten.

        Raises:
            IntegrityError: a line to drop disagrees with the catalog (the journal is kept as is).
            StorageError: the journal cannot be read or rewritten. CatalogError.
        """
        fd = self._open_locked()
        try:
            data = b""
            while chunk := os.pread(fd, 1 << 20, len(data)):
                data += chunk
            lines = data.split(b"\n")[:-1]
            kept = [ln for ln in lines if int(ln.split(b" ")[0]) >= covered]
            if not lines or len(kept) == len(lines):
                return False
            dropped = [(int(p[0]), p[1].decode()) for p in (ln.split(b" ") for ln in lines) if int(p[0]) < covered]
            stored = {seq: h.hex() for seq, h in rows(dropped[0][0], covered)}
            bad = [seq for seq, h in dropped if stored.get(seq) != h]
            if bad:
                raise IntegrityError(f"audit journal {self.path}: entries {bad[:5]} differ from the catalog "
                                     "(deleted or rewritten): the journal is kept, not compacted")  # fmt: skip
            if not kept:
                kept = lines[-1:]  # keep the last line: the next append continues after its seq
            tmp = self.path.with_name(self.path.name + ".compact")
            new = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(new, b"".join(ln + b"\n" for ln in kept))
                os.fsync(new)
            finally:
                os.close(new)
            tmp.replace(self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            return True
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot compact the audit journal {self.path}: {exc}") from exc
        finally:
            os.close(fd)

    def bytes_used(self) -> int:
        """The file's size (0 when missing)."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def extend(self, size: int, rows: Callable[[int, int], Sequence[JournalLine]]) -> int:
        """Make sure entries ``[0, size)`` are journaled (fsynced): append ``rows(lo, size)`` (the
        catalog's ``(seq, entry_hash)`` of ``[lo, size)``), ``lo`` being one past the file's last
        seq. Returns the journal's last seq + 1.

        Raises:
            StorageError: the journal cannot be opened, locked, written or fsynced (not covered).
            CatalogError: ``rows`` could not read the catalog.
        """
        fd = self._open_locked()
        try:
            lo = _last_seq(fd) + 1
            if lo >= size:
                return lo
            got = rows(lo, size)
            if [s for s, _ in got] != list(range(lo, size)):
                raise CatalogError(f"audit entries {lo}..{size - 1} are not all in the catalog: cannot journal them")
            body = b"".join(b"%d %s\n" % (seq, h.hex().encode()) for seq, h in got)
            os.write(fd, body)
            os.fsync(fd)
            return size
        except OSError as exc:
            raise StorageError(f"cannot write the audit journal {self.path}: {exc}") from exc
        finally:
            os.close(fd)  # closing releases the lock

    def read(self) -> list[JournalLine]:
        """Every complete line (empty when there is no journal yet).

        Raises:
            IntegrityError: a complete line is not ``<seq> <64 hex>``.
            StorageError: the file exists but cannot be read.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot read the audit journal {self.path}: {exc}") from exc
        out: list[JournalLine] = []
        for n, line in enumerate(data.split(b"\n")[:-1], 1):
            parts = line.split(b" ")
            try:
                if len(parts) != 2 or len(parts[1]) != 64:
                    raise ValueError(line[:80])
                out.append((int(parts[0]), bytes.fromhex(parts[1].decode())))
            except ValueError as exc:
                raise IntegrityError(f"audit journal {self.path} line {n} is malformed: {exc}") from exc
        return out
