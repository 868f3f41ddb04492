"""One pass over a log's stored entries: decode, chain, stored hashes, and (for the whole log)
the Merkle tree recomputed from the entry bytes, compared with every stored node.

Used by :mod:`archive.ledger.verify`. Failures go into a :class:`ReportBuilder`; the pass
never stops at the first one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from archive.integrity import (
    ZERO_HASH,
    Clock,
    CompactRange,
    Entry,
    Gap,
    IntegrityError,
    Node,
    Prune,
    Segment,
    leaf_hash,
    verify_entries,
)
from archive.ledger import repo
from archive.ledger.report import ReportBuilder

__all__ = ["Scan", "scan_entries"]

_NODE_BATCH = 4096
_MAX_NODE_FAILURES = 20


@dataclass
class Scan:
    """What the pass found: decoded entries by kind, leaf hashes (window only), roots at sizes."""

    start: int
    end: int = 0
    complete: bool = True
    last_hash: bytes | None = None
    leaves: list[bytes] = field(default_factory=list)
    timeline: list[Entry] = field(default_factory=list)  # segment, gap, clock, prune: for SPEC.md 8 step 8
    segments: dict[int, Segment] = field(default_factory=dict)
    gaps: dict[int, Gap] = field(default_factory=dict)
    prunes: list[tuple[int, Prune]] = field(default_factory=list)
    roots: dict[int, bytes] = field(default_factory=dict)
    tree: CompactRange | None = None
    seqs: set[int] = field(default_factory=set)


class _NodeCheck:
    """Compares recomputed perfect nodes with the stored ones, in batches."""

    def __init__(self, conn: Connection, log_id: str, rb: ReportBuilder) -> None:
        self._conn, self._log, self._rb = conn, log_id, rb
        self._pending: list[Node] = []
        self.failures = 0

    def add(self, nodes: Sequence[Node]) -> None:
        self._pending.extend(nodes)
        if len(self._pending) >= _NODE_BATCH:
            self.flush()

    def flush(self) -> None:
        by_level: dict[int, list[Node]] = defaultdict(list)
        for n in self._pending:
            by_level[n.level].append(n)
        self._pending = []
        for level, nodes in by_level.items():
            stored = repo.nodes_between(self._conn, self._log, level, nodes[0].index, nodes[-1].index + 1)
            for n in nodes:
                got = stored.get(n.index)
                if got == n.hash:
                    continue
                self.failures += 1
                if self.failures <= _MAX_NODE_FAILURES:
                    first = n.index << level
                    span = f"seqs {first}..{first + (1 << level) - 1}"
                    what = (
                        "is missing"
                        if got is None
                        else f"is {got.hex()}, but the entries give {n.hash.hex()} (an entry in {span} or the "
                        "node was changed)"
                    )
                    self._rb.fail(f"stored Merkle node (level {level}, index {n.index}) covering {span} {what}",
                                  seq=first)  # fmt: skip


def scan_entries(
    conn: Connection,
    log_id: str,
    camera_id: str,
    rb: ReportBuilder,
    *,
    start: int = 0,
    end: int | None = None,
    root_sizes: Sequence[int] = (),
    whole_tree: bool = True,
) -> Scan:
    """Check the stored entries ``[start, end)`` (``end`` None: all) of a log.

    With ``whole_tree`` (requires ``start`` = 0) the tree is rebuilt from the entry bytes,
    every stored node is compared, and the root at each size in ``root_sizes`` is recorded.
    """
    scan = Scan(start=start)
    if whole_tree:
        scan.tree = CompactRange()
    nodes = _NodeCheck(conn, log_id, rb) if whole_tree else None
    want = set(root_sizes)
    expected = start
    prev: bytes | None = ZERO_HASH if start == 0 else _hash_of(conn, log_id, start - 1)
    for rec in repo.iter_entries(conn, log_id, start, end):
        if rec.seq != expected:
            rb.fail(f"entries {expected}..{rec.seq - 1} are missing from the catalog (deleted?)", seq=expected)
            scan.complete = False
            prev = None
        _check_one(rec, log_id, camera_id, prev, scan, rb)
        leaf = leaf_hash(rec.data)
        if not whole_tree:  # kept only for a window's range proof: a whole log may be millions
            scan.leaves.append(leaf)
        scan.seqs.add(rec.seq)
        if scan.tree is not None and nodes is not None and scan.complete:
            nodes.add(scan.tree.append(leaf))
            if scan.tree.size in want:
                scan.roots[scan.tree.size] = scan.tree.root()
        prev = hashlib.sha256(rec.data).digest()
        expected = rec.seq + 1
        rb.entries_checked += 1
    if end is not None and expected < end:
        rb.fail(f"entries {expected}..{end - 1} are missing from the catalog (deleted?)", seq=expected)
        scan.complete = False
    if nodes is not None:
        nodes.flush()
        if nodes.failures > _MAX_NODE_FAILURES:
            rb.fail(f"{nodes.failures} stored Merkle nodes differ from the entries (first {_MAX_NODE_FAILURES} shown)")
    scan.end = expected
    scan.last_hash = prev
    return scan


def _hash_of(conn: Connection, log_id: str, seq: int) -> bytes | None:
    rows = list(repo.iter_entries(conn, log_id, seq, seq + 1))
    return hashlib.sha256(rows[0].data).digest() if rows else None


def _check_one(rec: repo.EntryRecord, log_id: str, camera_id: str, prev: bytes | None, scan: Scan,
               rb: ReportBuilder) -> None:  # fmt: skip
    try:
        entry = verify_entries([rec.data], origin=log_id, start=rec.seq, prev=prev)[0]
    except IntegrityError as exc:
        what = exc.detail
        if "prev is" in what:
            what += " (this entry or the one before it was changed, removed or inserted)"
        rb.fail(what, seq=rec.seq)
        entry = None
    if rec.leaf_hash != leaf_hash(rec.data) or rec.entry_hash != hashlib.sha256(rec.data).digest():
        rb.fail("stored leaf/entry hash does not match the stored entry bytes", seq=rec.seq)
    if entry is None:
        return
    if rec.kind != entry.kind:
        rb.fail(f"catalog kind column says {rec.kind!r}, the entry is a {entry.kind} entry", seq=rec.seq)
    p = entry.payload
    if isinstance(p, Segment | Gap):
        if p.camera != camera_id:
            rb.fail(f"entry names camera {p.camera!r}, not {camera_id!r} (replayed from another camera?)",
                    seq=rec.seq)  # fmt: skip
        scan.timeline.append(entry)
        if isinstance(p, Segment):
            scan.segments[rec.seq] = p
        else:
            scan.gaps[rec.seq] = p
    elif isinstance(p, Prune):
        scan.timeline.append(entry)  # its ``at`` bounds the ends before it (SPEC.md 8 step 8 (b))
        scan.prunes.append((rec.seq, p))
    elif isinstance(p, Clock):
        scan.timeline.append(entry)
