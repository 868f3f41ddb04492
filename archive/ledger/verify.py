"""Verify a camera's recordings against its signed log (``archive verify camera``).

:func:`verify_camera` checks, and reports every failure with camera, seq and object:

1. the latest signed checkpoint (log bucket ``checkpoint.latest`` and catalog record agree,
   signed by a trusted key that is in effect at its size, see :mod:`archive.ledger.trust`);
2. the entries: dense seqs, canonical bytes, hash chain, log and camera, stored hashes;
3. the tree: whole log - rebuilt from the entries, every stored node compared, the root
   equal to the checkpoint's; time window - a range proof of the window's entries against the
   checkpoint (SPEC.md 6.3);
4. the catalog rows (segment, gap, pruned flags) against the entries;
5. time coverage of segments and gaps (SPEC.md 8 step 8), whole log or the window;
6. the media: every segment not pruned is streamed by its logged version id and its size and
   SHA-256 compared; every object version under the camera's media prefix must be a logged
   one (an overwrite, a replacement or a foreign object is reported).

:func:`verify_log` (``archive verify log``) lives in :mod:`archive.ledger.verify_log`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, func, select, union_all

from archive.catalog.errors import catalog_errors
from archive.integrity import (
    DEFAULT_TOLERANCE_US,
    Checkpoint,
    Entry,
    IntegrityError,
    Prune,
    Segment,
    VerifierKey,
    check_time_coverage,
    format_time,
    range_proof,
    verify_range_proof,
)
from archive.ledger import repo
from archive.ledger.media_check import MediaItem, check_media, hash_object
from archive.ledger.published import read_latest_note
from archive.ledger.report import ReportBuilder, VerifyReport
from archive.ledger.service import Ledger
from archive.ledger.settings import latest_checkpoint_key
from archive.ledger.trust import TrustSet
from archive.ledger.verify_scan import Scan, scan_entries
from archive.model import us_from_utc, utc_from_us

__all__ = ["build_trust", "latest_signed", "verify_camera"]

IN_FLIGHT = timedelta(minutes=5)
"""Objects younger than this that are not (yet) logged are reported as notes, not failures."""


def build_trust(conn: Connection, ledger: Ledger, origin: str, trusted: Sequence[VerifierKey] | None,
                rb: ReportBuilder) -> TrustSet:  # fmt: skip
    """Trusted keys (given, else the key ring) plus the log's verified key rotations."""
    if trusted:
        trust = TrustSet.from_keys(origin, trusted)
    else:
        trust = TrustSet.from_records(origin, ledger.keys.records())
        rb.note("trusting the keys of the catalog's key ring (pass trusted keys to check against published ones)")
    decoded: list[Entry] = []
    for rec in repo.entries_of_kind(conn, origin, "key"):
        try:
            decoded.append(Entry.decode(rec.data))
        except IntegrityError as exc:
            rb.fail(f"key entry does not decode: {exc.detail}", seq=rec.seq)
    for problem in trust.add_rotations(decoded):
        seq_s, _, what = problem.partition(": ")
        rb.fail(what, seq=int(seq_s.removeprefix("seq ")))
    return trust


def latest_signed(conn: Connection, ledger: Ledger, camera_id: str, trust: TrustSet,
                  rb: ReportBuilder) -> Checkpoint | None:  # fmt: skip
    """The latest valid signed checkpoint (log bucket pointer and catalog must agree)."""
    origin = trust.origin
    bucket = ledger.settings.log_bucket
    found: list[tuple[str, Checkpoint]] = []
    pointer = read_latest_note(ledger.store, bucket, origin)
    if pointer is not None:
        where = f"{bucket}/{pointer.key}?versionId={pointer.version_id}"
        stored = us_from_utc(pointer.last_modified) if pointer.last_modified else None
        try:
            found.append(("log bucket", trust.check(pointer.text, stored)[0]))
        except IntegrityError as exc:
            rb.fail(f"latest checkpoint in the log bucket is not valid: {exc.detail}", obj=where)
    rec = repo.latest_checkpoint(conn, origin)
    if rec is not None:
        try:
            cp = trust.check(rec.note, rec.signed_us)[0]
            found.append(("catalog", cp))
            if cp.size != rec.size or cp.root.hex() != rec.root:
                rb.fail(f"catalog checkpoint row says size {rec.size} root {rec.root}, its note {cp.size} "
                        f"{cp.root.hex()}")  # fmt: skip
        except IntegrityError as exc:
            rb.fail(f"catalog's latest checkpoint (size {rec.size}) is not valid: {exc.detail}")
    if pointer is None and rec is not None:
        rb.fail(f"the catalog records checkpoints but the log bucket has no {latest_checkpoint_key(origin)}")
    if not found:
        if pointer is None and rec is None:
            rb.fail("the log has no signed checkpoint: nothing proves its entries")
        return None
    found.sort(key=lambda f: f[1].size)
    if len(found) == 2:
        (a_src, a), (b_src, b) = found
        if a.size != b.size:
            why = (
                "catalog restored from an older backup, or a checkpoint record removed"
                if b_src == "log bucket"
                else "the log bucket's checkpoint.latest was moved back or not written"
            )
            rb.fail(f"latest signed checkpoint is size {b.size} in the {b_src}, but size {a.size} in the {a_src} "
                    f"({why})")  # fmt: skip
        elif a.root != b.root:
            rb.fail(f"catalog and log bucket hold different signed roots for size {a.size}")
    return found[-1][1]


def _window(conn: Connection, camera_id: str, time_from: datetime, time_to: datetime) -> tuple[int, int] | None:
    """``[L, R)``: the seqs of the segment and gap rows overlapping the window."""
    lo, hi = us_from_utc(time_from), us_from_utc(time_to)
    parts = [
        select(t.c.seq).where(and_(t.c.camera_id == camera_id, t.c.end_us > lo, t.c.start_us < hi))
        for t in (repo.SEGMENT, repo.GAP)
    ]
    u = union_all(*parts).subquery()
    row = conn.execute(select(func.min(u.c.seq), func.max(u.c.seq))).one()
    return None if row[0] is None else (int(row[0]), int(row[1]) + 1)


def verify_camera(
    ledger: Ledger,
    camera_id: str,
    *,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
    trusted: Sequence[VerifierKey] | None = None,
    workers: int = 4,
    tolerance_us: int = DEFAULT_TOLERANCE_US,
    media: bool = True,
    now: datetime | None = None,
) -> VerifyReport:
    """Verify one camera (see the module docstring); ``time_from``/``time_to`` restrict it to a
    window (both or neither). Returns the report; ``report.ok`` only if every check held.

    Raises:
        CatalogError: the catalog cannot be read. StorageError: the store is unreachable
            (a missing or unreadable object is a failure in the report instead).
        MalformedError: invalid camera id.
    """
    origin = ledger.log_id(camera_id)
    window = time_from is not None and time_to is not None
    span = f" from {format_time(time_from)} to {format_time(time_to)}" if window and time_from and time_to else ""
    rb = ReportBuilder(f"camera {camera_id}{span} (log {origin})", camera=camera_id, log=origin)
    with catalog_errors("cannot read the catalog"), ledger.engine.connect() as conn:
        scan = _verify_log_part(conn, ledger, camera_id, origin, trusted, rb, time_from, time_to, tolerance_us)
        rows = _segment_rows(conn, camera_id, scan)
    if scan is not None and media:
        _check_media(ledger, camera_id, scan, rows, rb, workers, window, now or datetime.now(UTC))
    return rb.build()


def _verify_log_part(conn: Connection, ledger: Ledger, camera_id: str, origin: str,
                     trusted: Sequence[VerifierKey] | None, rb: ReportBuilder, time_from: datetime | None,
                     time_to: datetime | None, tolerance_us: int) -> Scan | None:  # fmt: skip
    trust = build_trust(conn, ledger, origin, trusted, rb)
    cp = latest_signed(conn, ledger, camera_id, trust, rb)
    if cp is not None:
        rb.checkpoint_size, rb.checkpoint_root = cp.size, cp.root.hex()
        rb.checkpoints_checked += 1
    state = repo.load_state(conn, origin)
    if state is None:
        rb.fail("the catalog has no log state for this camera")
    if time_from is not None and time_to is not None:
        win = _window(conn, camera_id, time_from, time_to)
        if win is None:
            rb.fail(f"no segment or gap covers {format_time(time_from)} .. {format_time(time_to)}")
            return None
        scan = scan_entries(conn, origin, camera_id, rb, start=win[0], end=win[1], whole_tree=False)
        _check_range(conn, origin, scan, cp, rb)
    else:
        scan = scan_entries(conn, origin, camera_id, rb, root_sizes=[cp.size] if cp else [])
        _check_whole_tree(scan, cp, state, rb)
    _check_rows(conn, camera_id, scan, rb)
    try:
        covered, notes = check_time_coverage(scan.timeline, time_from=time_from, time_to=time_to,
                                             tolerance_us=tolerance_us)  # fmt: skip
        if covered is not None:
            span = f"{format_time(covered[0])} .. {format_time(covered[1])}"
            rb.note(f"time covered {span} (tolerance {tolerance_us} us)")
        for n in notes[:20]:
            rb.note(n)
    except IntegrityError as exc:
        rb.fail(f"incomplete: {exc.detail}", seq=exc.seq)
    gaps = len(scan.gaps)
    if gaps:
        rb.note(f"{gaps} gap entries: " + ", ".join(sorted({g.reason.value for g in scan.gaps.values()})))
    return scan


def _check_whole_tree(scan: Scan, cp: Checkpoint | None, state: repo.LogStateRecord | None,
                      rb: ReportBuilder) -> None:  # fmt: skip
    size = scan.end
    if cp is not None:
        if size < cp.size:
            rb.fail(f"the catalog holds {size} entries, the signed checkpoint covers {cp.size} "
                    "(entries deleted, or the log rolled back)")  # fmt: skip
        elif cp.size in scan.roots and scan.roots[cp.size] != cp.root:
            rb.fail(f"entries 0..{cp.size - 1} give root {scan.roots[cp.size].hex()}, the signed checkpoint "
                    f"says {cp.root.hex()} (an entry was changed, removed, inserted or reordered)")  # fmt: skip
        elif cp.size not in scan.roots and cp.size > 0:
            rb.fail(f"the tree of size {cp.size} cannot be rebuilt from the catalog's entries")
        if size > cp.size:
            rb.note(f"{size - cp.size} entries after the latest checkpoint (size {cp.size}) are not signed yet")
    if state is not None and scan.tree is not None and scan.complete:
        if state.size != size:
            rb.fail(f"log state says {state.size} entries, the catalog holds {size}")
        elif state.state.edge != scan.tree.edge or state.state.last_hash != scan.last_hash:
            rb.fail("log state (tree edge / last hash) does not match the entries")


def _check_range(conn: Connection, origin: str, scan: Scan, cp: Checkpoint | None, rb: ReportBuilder) -> None:
    if cp is None or not scan.complete:
        return
    end = min(scan.end, cp.size)
    if end <= scan.start:
        rb.fail(f"entries {scan.start}..{scan.end - 1} are not covered by the signed checkpoint of size {cp.size}")
        return
    leaves = scan.leaves[: end - scan.start]
    try:
        proof = range_proof(scan.start, end, cp.size, repo.hash_source(conn, origin))
        verify_range_proof(scan.start, leaves, cp.size, proof.hashes, cp.root)
    except IntegrityError as exc:
        rb.fail(
            f"entries {scan.start}..{end - 1} do not rebuild the signed root of size {cp.size} (an entry was "
            f"changed, removed, inserted or reordered, or stored nodes altered): {exc.detail}"
        )
    if scan.end > cp.size:
        rb.note(f"entries {cp.size}..{scan.end - 1} of the window are not signed yet")


def _check_rows(conn: Connection, camera_id: str, scan: Scan, rb: ReportBuilder) -> None:
    lo, hi = scan.start, scan.end
    pruned = [(p.from_seq, p.to_seq) for _, p in scan.prunes]
    t = repo.SEGMENT
    cond = and_(t.c.camera_id == camera_id, t.c.seq >= lo, t.c.seq < hi)
    seg_rows = conn.execute(select(t).where(cond).order_by(t.c.seq)).mappings().all()
    seen: set[int] = set()
    for r in seg_rows:
        seq, obj = int(r["seq"]), f"{r['bucket']}/{r['object_key']}?versionId={r['version_id']}"
        seen.add(seq)
        seg = scan.segments.get(seq)
        if seg is None:
            rb.fail("catalog segment row has no segment entry at this seq (foreign or moved row)", seq=seq, obj=obj)
            continue
        diffs = [
            f"{name} is {_show(got)} in the catalog, {_show(want)} in the entry"
            for name, got, want in (
                ("object_key", r["object_key"], seg.object_key), ("version_id", r["version_id"], seg.version_id),
                ("sha256", r["sha256"], seg.sha256.hex()), ("size", r["size"], seg.size),
                ("start", utc_from_us(r["start_us"]), seg.start), ("end", utc_from_us(r["end_us"]), seg.end),
                ("duration_us", r["duration_us"], seg.duration_us),
            )
            if got != want
        ]
        if diffs:
            rb.fail("catalog row differs from the log: " + "; ".join(diffs), seq=seq, obj=obj)
        if r["pruned"] and not any(a <= seq < b for a, b in pruned):
            rb.fail("catalog row is marked pruned but no prune entry covers it", seq=seq, obj=obj)
    for seq in sorted(set(scan.segments) - seen):
        rb.fail("segment entry has no catalog row (row deleted)", seq=seq, obj=scan.segments[seq].object_key)
    gap_rows = conn.execute(
        select(repo.GAP).where(and_(repo.GAP.c.camera_id == camera_id, repo.GAP.c.seq >= lo, repo.GAP.c.seq < hi))
    ).mappings().all()
    gseen: set[int] = set()
    for r in gap_rows:
        seq = int(r["seq"])
        gseen.add(seq)
        gap = scan.gaps.get(seq)
        if gap is None:
            rb.fail("catalog gap row has no gap entry at this seq", seq=seq)
        elif (r["start_us"], r["end_us"], r["reason"]) != (us_from_utc(gap.start), us_from_utc(gap.end),
                                                           gap.reason.value):  # fmt: skip
            rb.fail("catalog gap row differs from the log entry", seq=seq)
    for seq in sorted(set(scan.gaps) - gseen):
        rb.fail("gap entry has no catalog row (row deleted)", seq=seq)


def _show(value: object) -> str:
    return format_time(value) if isinstance(value, datetime) else repr(value)


def _segment_rows(conn: Connection, camera_id: str, scan: Scan | None) -> dict[int, str]:
    """seq -> bucket of the catalog rows (the entry format does not name the bucket)."""
    if scan is None:
        return {}
    rows = conn.execute(
        select(repo.SEGMENT.c.seq, repo.SEGMENT.c.bucket).where(
            and_(repo.SEGMENT.c.camera_id == camera_id, repo.SEGMENT.c.seq >= scan.start,
                 repo.SEGMENT.c.seq < scan.end)
        )
    )  # fmt: skip
    return {int(r[0]): str(r[1]) for r in rows}


def _check_media(ledger: Ledger, camera_id: str, scan: Scan, buckets: dict[int, str], rb: ReportBuilder,
                 workers: int, window: bool, now: datetime) -> None:  # fmt: skip
    default = ledger.settings.media_bucket
    pruned = [(p.from_seq, p.to_seq) for _, p in _all_prunes(ledger, camera_id)]
    items = [
        MediaItem(seq, buckets.get(seq, default), s.object_key, s.version_id, s.sha256, s.size)
        for seq, s in sorted(scan.segments.items())
        if not any(a <= seq < b for a, b in pruned)
    ]
    for res in check_media(ledger.store, items, workers=workers):
        rb.segments_checked += 1
        rb.bytes_hashed += res.size
        if res.problem is not None:
            rb.fail(res.problem, seq=res.item.seq, obj=res.item.where)
    logged = {(s.object_key, s.version_id) for s in scan.segments.values()}
    by_key = {s.object_key: (seq, s) for seq, s in scan.segments.items()}
    keys = set(by_key)
    for bucket in sorted({it.bucket for it in items} | {default}):
        for info in ledger.store.list_versions(bucket, ledger.settings.media_prefix(camera_id)):
            if (info.key, info.version_id) in logged or (window and info.key not in keys):
                continue
            where = f"{bucket}/{info.key}?versionId={info.version_id}"
            if info.key in keys:
                _check_other_version(ledger, bucket, info.version_id, *by_key[info.key], where, rb)
            elif info.last_modified is not None and now - info.last_modified < IN_FLIGHT:
                rb.note(f"object {where} stored {format_time(info.last_modified)} is not logged yet (in flight?)")
            else:
                rb.fail("object under the camera's media prefix is not in the log (foreign object)", obj=where)


def _check_other_version(ledger: Ledger, bucket: str, version_id: str, seq: int, seg: Segment, where: str,
                         rb: ReportBuilder) -> None:  # fmt: skip
    """Another version of a logged segment's object key. One with the logged bytes (SHA-256 and size) is
    a second copy of that segment, noted: an upload the store finished after the recorder had timed out
    and retried (seen with SeaweedFS when its volume servers came back); the version the log names is the
    evidence either way. One with other bytes fails: the object was overwritten or replaced."""
    res = hash_object(ledger.store, MediaItem(seq, bucket, seg.object_key, version_id, seg.sha256, seg.size))
    if res.problem is None:
        rb.note(f"object {where}: a second stored copy of seq {seq} with the logged bytes (SHA-256 "
                f"{seg.sha256.hex()}, {seg.size} bytes), from an upload retried after the store timed out; the "
                "log names the other version")  # fmt: skip
        return
    rb.fail("another version of a logged object, not in the log (overwritten or replaced)", seq=seq, obj=where)


def _all_prunes(ledger: Ledger, camera_id: str) -> list[tuple[int, Prune]]:
    out: list[tuple[int, Prune]] = []
    with ledger.engine.connect() as conn:
        for rec in repo.entries_of_kind(conn, ledger.log_id(camera_id), "prune"):
            try:
                p = Entry.decode(rec.data).payload
            except IntegrityError:
                continue  # reported by the scan
            if isinstance(p, Prune):
                out.append((rec.seq, p))
    return out

