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
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from archive.errors import CatalogError, StorageError
from archive.integrity.errors import IntegrityError

__all__ = ["AuditJournal", "JournalLine"]

JournalLine = tuple[int, bytes]
"""``(seq, entry hash)`` of one journaled entry."""

_TAIL = 4096


def _last_seq(fd: int) -> int:
    """The seq of the file's last complete line (-1: empty)."""
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return -1
    start = max(0, end - _TAIL)
    os.lseek(fd, start, os.SEEK_SET)
    tail = os.read(fd, end - start)
    lines = [ln for ln in tail.split(b"\n") if ln]
    if not tail.endswith(b"\n"):
        lines = lines[:-1]  # a torn last line (crash while writing): not acknowledged, rewritten below
    return int(lines[-1].split(b" ")[0]) if lines else -1


class AuditJournal:
    """The journal file at ``path`` (created with mode 0600 at first append). Thread- and process-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def extend(self, size: int, rows: Callable[[int, int], Sequence[JournalLine]]) -> int:
        """Make sure entries ``[0, size)`` are journaled (fsynced): append ``rows(lo, size)`` (the
        catalog's ``(seq, entry_hash)`` of ``[lo, size)``), ``lo`` being one past the file's last
        seq. Returns the journal's last seq + 1.

        Raises:
            StorageError: the journal cannot be opened, locked, written or fsynced (not covered).
            CatalogError: ``rows`` could not read the catalog.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open the audit journal {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
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
