"""Verify the history of signed checkpoints of camera logs (``archive verify log``).

For each log: every checkpoint note stored in the log bucket (all versions) and every catalog
record must verify (trusted key in effect at its size, see :mod:`archive.ledger.trust`); two
checkpoints of one size must have one root; consecutive checkpoints must be consistent
(RFC 9162 2.1.4 proofs from the stored nodes) and the newest consistent with the current
tree; the roots at every checkpoint size are recomputed from the catalog's entry bytes; the
published entry batches must equal the catalog's entries; ``checkpoint.latest`` must be the
largest checkpoint.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from sqlalchemy import Connection

from archive.catalog.errors import catalog_errors
from archive.integrity import (
    Checkpoint,
    CompactRange,
    IntegrityError,
    VerifierKey,
    consistency_proof,
    verify_consistency,
)
from archive.ledger import repo
from archive.ledger.published import list_checkpoint_notes, read_latest_note
from archive.ledger.report import ReportBuilder, VerifyReport, merge
from archive.ledger.service import Ledger
from archive.ledger.settings import log_prefix
from archive.ledger.trust import TrustSet
from archive.ledger.verify import build_trust
from archive.ledger.verify_scan import scan_entries
from archive.model import us_from_utc

__all__ = ["verify_log", "verify_logs"]

_BATCH_KEY = re.compile(r"entries/(\d{12})-(\d{12})\.jsonl")


def verify_logs(ledger: Ledger, camera_id: str | None = None, *,
                trusted: Sequence[VerifierKey] | None = None) -> VerifyReport:  # fmt: skip
    """:func:`verify_log` for one camera, or every camera with a log (merged report).

    Raises CatalogError, StorageError (unreachable store).
    """
    if camera_id is not None:
        return verify_log(ledger, camera_id, trusted=trusted)
    cams = [s.camera_id for s in ledger.logs()]
    return merge(f"{len(cams)} camera logs", [verify_log(ledger, c, trusted=trusted) for c in cams])


def verify_log(ledger: Ledger, camera_id: str, *, trusted: Sequence[VerifierKey] | None = None) -> VerifyReport:
    """Check the checkpoint history of one camera's log (module docstring).

    Raises:
        CatalogError: the catalog cannot be read. StorageError: the store is unreachable.
    """
    origin = ledger.log_id(camera_id)
    rb = ReportBuilder(f"log of camera {camera_id} ({origin})", camera=camera_id, log=origin)
    with catalog_errors("cannot read the catalog"), ledger.engine.connect() as conn:
        _verify(conn, ledger, camera_id, origin, trusted, rb)
    return rb.build()


def _verify(conn: Connection, ledger: Ledger, camera_id: str, origin: str, trusted: Sequence[VerifierKey] | None,
            rb: ReportBuilder) -> None:  # fmt: skip
    trust = build_trust(conn, ledger, origin, trusted, rb)
    signed = _bucket_checkpoints(ledger, trust, rb)
    _compare_catalog(conn, origin, signed, trust, rb)
    _check_pointer(ledger, signed, trust, rb)
    if not signed:
        rb.fail("no valid signed checkpoint in the log bucket")
        return
    sizes = sorted(signed)
    rb.checkpoint_size, rb.checkpoint_root = sizes[-1], signed[sizes[-1]].root.hex()
    state = repo.load_state(conn, origin)
    count, _top = repo.entry_count(conn, origin)
    scan = scan_entries(conn, origin, camera_id, rb, end=max(sizes[-1], state.size if state else 0), root_sizes=sizes)
    for size in sizes:
        cp = signed[size]
        if size > scan.end or (not scan.complete and size not in scan.roots):
            rb.fail(f"checkpoint of size {size} was signed, but the catalog's entries stop at {scan.end} "
                    "(entries deleted or the catalog rolled back)")  # fmt: skip
        elif size in scan.roots and scan.roots[size] != cp.root:
            rb.fail(f"the catalog's entries 0..{size - 1} give root {scan.roots[size].hex()}, the checkpoint of "
                    f"size {size} says {cp.root.hex()}")  # fmt: skip
    src = repo.hash_source(conn, origin)
    chain = [signed[s] for s in sizes]
    if state is not None:
        chain.append(Checkpoint(origin, state.size, CompactRange(state.size, state.state.edge).root()))
    for a, b in itertools.pairwise(chain):
        if b.size > count:
            continue  # reported above
        try:
            verify_consistency(a.size, b.size, a.root, b.root, consistency_proof(a.size, b.size, src))
        except IntegrityError as exc:
            what = "the current tree" if b is chain[-1] and state is not None else f"checkpoint of size {b.size}"
            rb.fail(f"checkpoint of size {a.size} and {what} are not consistent: {exc.detail}")
    _check_batches(conn, ledger, origin, rb)
    lines = sum(len(repo.cosignature_lines(conn, origin, s)) for s in sizes)
    rb.note(f"{len(sizes)} signed checkpoints, sizes {sizes[0]}..{sizes[-1]}; {lines} witness cosignatures stored")


def _bucket_checkpoints(ledger: Ledger, trust: TrustSet, rb: ReportBuilder) -> dict[int, Checkpoint]:
    bucket = ledger.settings.log_bucket
    signed: dict[int, Checkpoint] = {}
    for note in list_checkpoint_notes(ledger.store, bucket, trust.origin):
        where = f"{bucket}/{note.key}?versionId={note.version_id}"
        rb.checkpoints_checked += 1
        try:
            cp = trust.check(note.text, us_from_utc(note.last_modified) if note.last_modified else None)[0]
        except IntegrityError as exc:
            rb.fail(f"stored checkpoint is not valid: {exc.detail}", obj=where)
            continue
        if note.size_in_key != cp.size:
            rb.fail(f"checkpoint of size {cp.size} stored under the name of size {note.size_in_key}", obj=where)
        other = signed.get(cp.size)
        if other is not None and other.root != cp.root:
            rb.fail(f"two signed checkpoints of size {cp.size} with different roots (split view)", obj=where)
            continue
        signed[cp.size] = cp
    return signed


def _compare_catalog(conn: Connection, origin: str, signed: dict[int, Checkpoint], trust: TrustSet,
                     rb: ReportBuilder) -> None:  # fmt: skip
    recorded: set[int] = set()
    for rec in repo.checkpoints(conn, origin):
        recorded.add(rec.size)
        try:
            cp = trust.check(rec.note, rec.signed_us)[0]
        except IntegrityError as exc:
            rb.fail(f"catalog checkpoint record of size {rec.size} is not valid: {exc.detail}")
            continue
        pub = signed.get(rec.size)
        if cp.size != rec.size or cp.root.hex() != rec.root:
            rb.fail(f"catalog checkpoint record of size {rec.size} does not match its own note")
        elif pub is None:
            rb.fail(f"catalog records a checkpoint of size {rec.size} that is not in the log bucket",
                    obj=rec.object_key)  # fmt: skip
        elif pub.root != cp.root:
            rb.fail(f"catalog and log bucket hold different roots for size {rec.size}", obj=rec.object_key)
    for size in sorted(set(signed) - recorded):
        rb.note(f"checkpoint of size {size} is in the log bucket but not recorded in the catalog")


def _check_pointer(ledger: Ledger, signed: dict[int, Checkpoint], trust: TrustSet, rb: ReportBuilder) -> None:
    pointer = read_latest_note(ledger.store, ledger.settings.log_bucket, trust.origin)
    if pointer is None:
        if signed:
            rb.fail("the log bucket has numbered checkpoints but no checkpoint.latest")
        return
    where = f"{ledger.settings.log_bucket}/{pointer.key}?versionId={pointer.version_id}"
    try:
        cp = trust.check(pointer.text, us_from_utc(pointer.last_modified) if pointer.last_modified else None)[0]
    except IntegrityError as exc:
        rb.fail(f"latest checkpoint pointer is not valid: {exc.detail}", obj=where)
        return
    top = max(signed) if signed else None
    if top is None or cp.size != top or cp.root != signed[top].root:
        rb.fail(f"latest checkpoint pointer names size {cp.size}, the largest stored checkpoint is {top}", obj=where)


def _check_batches(conn: Connection, ledger: Ledger, origin: str, rb: ReportBuilder) -> None:
    bucket = ledger.settings.log_bucket
    prefix = log_prefix(origin)
    covered = 0
    for info in ledger.store.list_versions(bucket, prefix + "entries/"):
        m = _BATCH_KEY.fullmatch(info.key[len(prefix) :])
        where = f"{bucket}/{info.key}?versionId={info.version_id}"
        if m is None:
            rb.fail("unexpected object among the entry batches", obj=where)
            continue
        lo, hi = int(m.group(1)), int(m.group(2))
        lines = ledger.store.get_bytes(bucket, info.key, info.version_id).split(b"\n")
        if lines[-1] != b"" or len(lines) - 1 != hi - lo:
            rb.fail(f"published batch should hold {hi - lo} entries, holds {len(lines) - 1}", obj=where)
            continue
        stored = {r.seq: r.data for r in repo.iter_entries(conn, origin, lo, hi)}
        for i, data in enumerate(lines[:-1]):
            seq = lo + i
            if seq not in stored:
                rb.fail("entry is in the published batch but missing from the catalog", seq=seq, obj=where)
            elif stored[seq] != data:
                rb.fail("catalog entry differs from the published (COMPLIANCE-locked) batch", seq=seq, obj=where)
        covered += hi - lo
    rb.note(f"{covered} entries compared with the published batches")
