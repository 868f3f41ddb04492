"""High-level verification of an exported range (SPEC.md section 8).

:func:`verify_range` runs every numbered step of SPEC.md 8 on the entries ``[L, R)`` of one
log, their range proof and a signed checkpoint, and returns a :class:`RangeReport` or
raises an :class:`~archive.integrity.errors.IntegrityError` whose message names the log, the
seq and what differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .checkpoint import (
    Checkpoint,
    Cosignature,
    require_cosignatures,
    verify_checkpoint,
)
from .encoding import format_time
from .entries import Clock, Entry, Gap, KeyRotation, Prune, Segment
from .errors import (
    CompletenessError,
    MalformedError,
    MediaMismatchError,
    ProofError,
    SignatureError,
)
from .keys import VerifierKey
from .log import verify_entries
from .merkle import leaf_hash
from .note import SignedNote
from .proofs import InclusionProof, RangeProof, verify_inclusion, verify_range_proof
from .timeorder import check_not_after, check_time_order

__all__ = [
    "DEFAULT_TOLERANCE_US",
    "RangeReport",
    "check_time_coverage",
    "verify_media",
    "verify_range",
]

DEFAULT_TOLERANCE_US = 500_000
"""Largest hole or overlap between timeline entries, and largest excess of an end over a later
recorded time, accepted and reported instead of failed (SPEC.md 8 step 8)."""


@dataclass(frozen=True, slots=True)
class RangeReport:
    """What :func:`verify_range` proved.

    ``covered`` is the verified time interval (None if the range holds no segment or gap);
    ``pruned`` the half-open seq ranges whose media proven prune entries say was deleted;
    ``notes`` human-readable facts a report must show (gaps, small holes within tolerance,
    overlaps, partial segments, unsynchronized clock, prunes, key rotations).
    """

    checkpoint: Checkpoint
    start: int
    end: int
    entries: tuple[Entry, ...]
    camera: str | None
    signed_by: tuple[VerifierKey, ...]
    cosignatures: tuple[Cosignature, ...]
    covered: tuple[datetime, datetime] | None
    pruned: tuple[tuple[int, int], ...]
    tolerance_us: int
    notes: tuple[str, ...]

    @property
    def origin(self) -> str:
        """The log id."""
        return self.checkpoint.origin

    def is_pruned(self, seq: int) -> bool:
        """True if a proven prune entry says the media of ``seq`` was deleted."""
        return _in_ranges(seq, self.pruned)


def _in_ranges(seq: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(lo <= seq < hi for lo, hi in ranges)


def _us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def check_time_coverage(
    entries: Sequence[Entry],
    *,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
    tolerance_us: int = DEFAULT_TOLERANCE_US,
) -> tuple[tuple[datetime, datetime] | None, tuple[str, ...]]:
    """Check that the segment and gap entries tile ``[time_from, time_to)`` (default: from
    the earliest start to the latest end) with no hole longer than ``tolerance_us``
    (SPEC.md 8.8), in time order (:func:`~archive.integrity.timeorder.check_time_order`).
    Returns the covered interval and notes (holes and overlaps within tolerance).

    Raises:
        CompletenessError: a hole longer than the tolerance, or (with a requested range) no
            segment or gap entry at all.
        TimeOrderError: an overlap longer than the tolerance, or an end after the ``at`` of a
            later clock or prune entry (SPEC.md 8 step 8 (a), (b)).
        MalformedError: ``time_to`` before ``time_from`` or a negative tolerance.
    """
    if tolerance_us < 0:
        raise MalformedError("tolerance must not be negative")
    timeline = [e for e in entries if isinstance(e.payload, Segment | Gap)]
    log = entries[0].log if entries else None
    if not timeline:
        if time_from is not None or time_to is not None:
            raise CompletenessError("no segment or gap entry covers the requested time range", log=log)
        return None, ()
    spans = [(e.payload.start, e.payload.end, e.seq) for e in timeline if isinstance(e.payload, Segment | Gap)]
    lo = time_from if time_from is not None else min(s for s, _, _ in spans)
    hi = time_to if time_to is not None else max(e for _, e, _ in spans)
    if hi <= lo:
        raise MalformedError(f"time range end {hi.isoformat()} is not after its start {lo.isoformat()}")
    # Step 8 (a), (b): no overlap, no end after a later recorded time (SPEC.md 9.1 dating).
    notes = list(check_time_order(entries, tolerance_us))
    # Sweep in time order: [lo, cover) is covered so far.
    cover, cover_seq = lo, None
    for start, end, seq in sorted(spans):
        if cover >= hi:
            break
        if start > cover:
            hole = _us(min(start, hi) - cover)
            where = f"between seq {cover_seq} and seq {seq}" if cover_seq is not None else f"before seq {seq}"
            msg = f"{hole} us from {format_time(cover)} to {format_time(min(start, hi))} not covered {where}"
            if hole > tolerance_us:
                raise CompletenessError(f"{msg} (tolerance {tolerance_us} us)", log=log, seq=seq)
            notes.append(f"hole within tolerance: {msg}")
        if end > cover:
            cover, cover_seq = end, seq
    if cover < hi:
        hole = _us(hi - cover)
        msg = f"{hole} us from {format_time(cover)} to {format_time(hi)} not covered after seq {cover_seq}"
        if hole > tolerance_us:
            raise CompletenessError(f"{msg} (tolerance {tolerance_us} us)", log=log, seq=cover_seq)
        notes.append(f"hole within tolerance: {msg}")
    return (lo, hi), tuple(notes)


def _entry_notes(entries: Sequence[Entry], tolerance_us: int) -> tuple[list[str], list[tuple[int, int]]]:
    notes: list[str] = []
    pruned: list[tuple[int, int]] = []
    for e in entries:
        p = e.payload
        if isinstance(p, Segment):
            if p.media.partial:
                notes.append(f"seq {e.seq}: segment is partial (recording cut short)")
            if not p.media.keyframe_start:
                notes.append(f"seq {e.seq}: segment does not start with a keyframe")
            drift = _us(p.end - p.start) - p.duration_us
            if abs(drift) > tolerance_us:
                notes.append(f"seq {e.seq}: wall-clock length differs from media duration by {drift} us")
        elif isinstance(p, Gap):
            detail = f" ({p.detail})" if p.detail else ""
            notes.append(f"seq {e.seq}: gap {format_time(p.start)} - {format_time(p.end)}: {p.reason.value}{detail}")
        elif isinstance(p, Prune):
            pruned.append((p.from_seq, p.to_seq))
            notes.append(
                f"seq {e.seq}: media of seqs {p.from_seq}..{p.to_seq - 1} deleted at {format_time(p.at)} "
                f"by rule {p.rule}"
            )
        elif isinstance(p, Clock):
            if not p.synced:
                notes.append(f"seq {e.seq}: host clock not synchronized at {format_time(p.at)} ({p.source})")
            elif p.max_error_us is not None and p.max_error_us > tolerance_us:
                notes.append(f"seq {e.seq}: host clock error bound {p.max_error_us} us at {format_time(p.at)}")
        elif isinstance(p, KeyRotation):
            notes.append(f"seq {e.seq}: log key rotated at {format_time(p.at)} to {p.new_key}")
    return notes, pruned


def verify_media(entry: Entry, path: Path) -> None:
    """Check that the file at ``path`` has the size and SHA-256 recorded in segment ``entry``.

    Raises:
        MalformedError: ``entry`` is not a segment entry.
        MediaMismatchError: the file is missing, or its size or hash differs.
    """
    seg = entry.payload
    if not isinstance(seg, Segment):
        raise MalformedError(f"entry is a {entry.kind} entry, not a segment", log=entry.log, seq=entry.seq)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").digest()
    except OSError as exc:
        raise MediaMismatchError(f"media file {path} cannot be read: {exc}", log=entry.log, seq=entry.seq) from exc
    if size != seg.size:
        raise MediaMismatchError(
            f"media file {path.name} is {size} bytes, the entry says {seg.size}", log=entry.log, seq=entry.seq
        )
    if digest != seg.sha256:
        raise MediaMismatchError(
            f"media file {path.name} has SHA-256 {digest.hex()}, the entry says {seg.sha256.hex()}",
            log=entry.log,
            seq=entry.seq,
        )


def _proven_prune(data: bytes, proof: InclusionProof, cp: Checkpoint) -> tuple[Entry, Prune]:
    """A prune entry proven by inclusion in ``cp`` (SPEC.md 6.1, 8 step 9)."""
    entry = verify_entries([data], origin=cp.origin, start=proof.index)[0]
    prune = entry.payload
    if not isinstance(prune, Prune):
        raise MalformedError(f"entry is a {entry.kind} entry, expected a prune entry", log=cp.origin, seq=entry.seq)
    if proof.tree_size != cp.size:
        raise ProofError(f"inclusion proof is for tree size {proof.tree_size}, checkpoint has {cp.size}", log=cp.origin)
    try:
        verify_inclusion(leaf_hash(data), proof.index, proof.tree_size, proof.hashes, cp.root)
    except ProofError as exc:
        raise exc.located(log=cp.origin, seq=proof.index) from exc
    return entry, prune


def verify_range(
    entries: Sequence[bytes],
    proof: RangeProof,
    checkpoint: SignedNote | str | bytes,
    log_keys: Sequence[VerifierKey],
    *,
    origin: str | None = None,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
    tolerance_us: int = DEFAULT_TOLERANCE_US,
    witness_keys: Sequence[VerifierKey] = (),
    witness_quorum: int = 0,
    media: Mapping[int, Path] | None = None,
    prunes: Sequence[tuple[bytes, InclusionProof]] = (),
) -> RangeReport:
    """Verify exported entries ``[proof.start, proof.end)`` of one log (SPEC.md 8, steps 1-9).

    ``entries`` are the exact entry bytes in seq order. ``origin`` pins the expected log.
    ``media`` maps seq to the exported media file: when given, every segment in the range
    that is not pruned must have a matching file. A segment is pruned if a prune entry in the
    range, or one of ``prunes`` (prune entry bytes with an inclusion proof against the same
    checkpoint, for prunes written after the range), covers its seq (SPEC.md 8 step 9).

    Raises:
        MalformedError: a note, checkpoint, proof or entry does not parse.
        SignatureError: the checkpoint is not signed by a trusted log key, or the witness
            quorum is not met.
        ChainError: entries do not link (seq, prev, log, camera).
        ProofError: the entries do not rebuild the signed root, or proof and checkpoint
            disagree on the tree size or the number of entries.
        CompletenessError: the time range has a hole beyond the tolerance.
        TimeOrderError: timeline entries overlap, or one ends after a later clock or prune
            entry's time or after the earliest trusted witness cosignature (SPEC.md 8 step 8).
        MediaMismatchError: a media file is missing or differs.
    """
    # Steps 1-2: checkpoint signature by a trusted log key, witness quorum.
    note = checkpoint if isinstance(checkpoint, SignedNote) else SignedNote.parse(checkpoint)
    cp, signed_by = verify_checkpoint(note, log_keys, origin=origin)
    try:
        cosigs = require_cosignatures(note, witness_keys, witness_quorum)
    except SignatureError as exc:
        raise exc.located(log=cp.origin) from exc
    # Step 3: the proof is for this checkpoint and this many entries.
    if proof.tree_size != cp.size:
        raise ProofError(f"range proof is for tree size {proof.tree_size}, checkpoint has {cp.size}", log=cp.origin)
    if len(entries) != proof.end - proof.start:
        raise ProofError(
            f"{len(entries)} entries exported for seqs [{proof.start}, {proof.end}) "
            f"({proof.end - proof.start} expected)",
            log=cp.origin,
        )
    # Steps 4-5: decode, validate, chain.
    decoded = verify_entries(entries, origin=cp.origin, start=proof.start)
    # Step 6: the entries rebuild the signed root.
    try:
        verify_range_proof(proof.start, [leaf_hash(d) for d in entries], cp.size, proof.hashes, cp.root)
    except ProofError as exc:
        raise exc.located(log=cp.origin) from exc
    # Step 7: per-entry facts; step 8: time coverage.
    notes, pruned = _entry_notes(decoded, tolerance_us)
    covered, time_notes = check_time_coverage(decoded, time_from=time_from, time_to=time_to, tolerance_us=tolerance_us)
    if cosigs:  # step 8 (b): nothing in the checkpoint ends after a witness saw it
        first = min(cosigs, key=lambda c: c.timestamp)
        at = datetime.fromtimestamp(first.timestamp, tz=UTC)
        check_not_after(decoded, at, f"the checkpoint was cosigned by {first.name}", tolerance_us)
    # Step 9: prune entries from after the range (proven by inclusion), then media files.
    for data, incl in prunes:
        entry, prune = _proven_prune(data, incl, cp)
        notes.extend(_entry_notes([entry], tolerance_us)[0])
        pruned.append((prune.from_seq, prune.to_seq))
    if media is not None:
        for e in decoded:
            if isinstance(e.payload, Segment) and not _in_ranges(e.seq, pruned):
                path = media.get(e.seq)
                if path is None:
                    raise MediaMismatchError("media file missing from the export", log=e.log, seq=e.seq)
                verify_media(e, path)
    camera = next((getattr(e.payload, "camera", None) for e in decoded if isinstance(e.payload, Segment | Gap)), None)
    return RangeReport(
        checkpoint=cp,
        start=proof.start,
        end=proof.end,
        entries=decoded,
        camera=camera,
        signed_by=signed_by,
        cosignatures=cosigs,
        covered=covered,
        pruned=tuple(pruned),
        tolerance_us=tolerance_us,
        notes=(*notes, *time_notes),
    )
