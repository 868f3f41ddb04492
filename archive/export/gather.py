"""Collecting one camera's evidence for a time range from the ledger (catalog + log bucket).

For the requested ``[start, end)``: the entries ``[L, R)`` of every segment and gap that
overlaps it (and whatever lies between them, from the latest clock entry before them), a
checkpoint signed now (so ``N >= R``), the range proof of ``[L, R)`` in the tree of size
``N``, prune entries written after the range
that delete media in it (each with an inclusion proof), and the media objects to copy. The
result is verified with :func:`archive.integrity.verify_range` exactly as the package's
verifier will, so a package is only built from evidence that proves the requested range.

A range that runs into an outage still going on (the camera's last segment or gap ends before the
range does, and no gap is logged yet because the recorder logs a gap only when it ends) is
gathered up to that last logged instant; the rest is an :class:`OngoingOutage`, which the
manifest names as "not yet logged" (EXPORT-SPEC.md 4.1): the log vouches for none of it.

Witness cosignatures on the checkpoint are kept only when they verify with a known witness
key (:func:`packaged_note`): every cosignature in a package can be checked by its verifier
with the keys bundled beside it. Left-out ones are named in ``cosignatures_left_out``.
:func:`require_quorum` applies ``[export] witness_policy`` ("q of n", SPEC.md 7.5) to the result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from archive.errors import ConflictError
from archive.integrity import (
    ALG_COSIGNATURE_V1,
    CompletenessError,
    Gap,
    InclusionProof,
    IntegrityError,
    RangeProof,
    RangeReport,
    Segment,
    SignedNote,
    VerifierKey,
    verify_cosignatures,
    verify_range,
)
from archive.ledger.evidence import logged_evidence
from archive.ledger.index import covered_interval
from archive.ledger.service import Ledger
from archive.model import us_from_utc, utc_from_us

__all__ = ["STATE_UNKNOWN", "CameraEvidence", "ExportSegmentRef", "OngoingOutage", "gather", "packaged_note",
           "require_quorum"]  # fmt: skip

STATE_UNKNOWN = "the recorder's current state is not known to the export service"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportSegmentRef:
    """A media object to copy into the package, with what its log entry says about it."""

    seq: int
    bucket: str
    key: str
    version_id: str
    sha256: str
    size: int
    start_us: int
    container: str


@dataclass(frozen=True)
class OngoingOutage:
    """The end of a requested range after the camera's last logged instant ``from_us``: an outage
    still going on when the package was built, not yet logged (no gap entry vouches for it).
    ``state``: the recorder's current state of the camera as a sentence, or :data:`STATE_UNKNOWN`."""

    from_us: int
    state: str


@dataclass(frozen=True)
class CameraEvidence:
    """Everything the package needs about one camera (see the module docstring)."""

    camera_id: str
    origin: str
    first: int
    end: int
    entries: tuple[bytes, ...]
    proof: RangeProof
    checkpoint_note: str
    prunes: tuple[tuple[bytes, InclusionProof], ...]
    segments: tuple[ExportSegmentRef, ...]
    report: RangeReport
    cosignatures_left_out: tuple[str, ...] = ()
    ongoing: OngoingOutage | None = None
    clock_before: int | None = None

    @property
    def media_bytes(self) -> int:
        """Bytes of media to copy."""
        return sum(s.size for s in self.segments)


def packaged_note(note: str, origin: str, witnesses: Sequence[VerifierKey]) -> tuple[str, tuple[str, ...]]:
    """The checkpoint note as a package carries it: the log's own signatures, and the witness
    cosignatures that verify with one of ``witnesses``; plus, for each line left out, why.
    The note is returned unchanged when nothing is left out. Raises MalformedError."""
    parsed = SignedNote.parse(note)
    keep, out = [], []
    for sig in parsed.signatures:
        if sig.name == origin:
            keep.append(sig)
            continue
        label = f"{sig.name}+{sig.key_id.hex()}"
        keys = [k for k in witnesses if k.alg == ALG_COSIGNATURE_V1 and (k.name, k.key_id) == (sig.name, sig.key_id)]
        if not keys:
            out.append(f"{label}: not a known witness key ([ledger] witnesses or witness_keys_file)")
            continue
        try:
            verify_cosignatures(SignedNote(parsed.text, (sig,)), keys)
        except IntegrityError as exc:
            out.append(f"{label}: does not verify: {exc}")
            continue
        keep.append(sig)
    if not out:
        return note, ()
    log.warning("checkpoint of %s: witness cosignatures left out of the package: %s", origin, "; ".join(out))
    return SignedNote(parsed.text, tuple(keep)).encode(), tuple(out)


def gather(ledger: Ledger, camera_id: str, start_us: int, end_us: int, tolerance_us: int,
           witnesses: Sequence[VerifierKey] = (), state: str | None = None) -> CameraEvidence:  # fmt: skip
    """One camera's evidence for ``[start_us, end_us)``, verified (module docstring); witness
    cosignatures as :func:`packaged_note` keeps them. When the camera's log ends inside the range
    (an outage still going on), the evidence ends at the last logged instant and ``ongoing``
    names the rest, with ``state`` (the recorder's current state of the camera, if known).

    Raises:
        NotFoundError: no segment or gap of the camera overlaps the range.
        ConflictError: the log does not (yet) prove the whole range, e.g. the range reaches
            before the first recorded entry, has a hole between entries, or a catalog row
            disagrees with its entry.
        IntegrityError: stored evidence does not verify (an alarm: tampering or corruption).
        CatalogError, StorageError, SecretError: signing the checkpoint or reading failed.
    """
    origin = ledger.log_id(camera_id)
    _, last = covered_interval(ledger.engine, camera_id)  # read first: the checkpoint below covers it
    ledger.checkpoint(camera_id)  # sign what is logged now, so the checkpoint covers the range
    ongoing = None
    if last is not None and start_us < last < end_us:
        ongoing, end_us = OngoingOutage(last, state or STATE_UNKNOWN), last
    view = ledger.signer.latest(camera_id)
    ev = logged_evidence(ledger.engine, origin, camera_id, start_us, end_us, None if view is None else view.size,
                         to_tree_end=ongoing is not None)  # fmt: skip
    assert view is not None  # logged_evidence refuses a range that is not signed
    first, end, entries, proof, prunes, buckets = ev.first, ev.end, ev.entries, ev.proof, list(ev.prunes), ev.buckets
    try:
        report = verify_range(entries, proof, SignedNote.parse(view.note), ledger.signer.trusted_keys(origin),
                              origin=origin, time_from=utc_from_us(start_us), time_to=utc_from_us(end_us),
                              tolerance_us=tolerance_us, prunes=prunes)  # fmt: skip
    except CompletenessError as exc:
        raise ConflictError(f"camera {camera_id}: the log does not cover the requested range: {exc}") from exc
    if ongoing is not None and ongoing.from_us != _last_end(report):
        raise ConflictError(f"camera {camera_id} was recorded again while its evidence was gathered (its log ended at "
                            f"{utc_from_us(ongoing.from_us).isoformat()}): build the export again")  # fmt: skip
    segs = []
    for e in report.entries:
        s = e.payload
        if isinstance(s, Segment) and not report.is_pruned(e.seq):
            segs.append(ExportSegmentRef(e.seq, str(buckets.get(e.seq, ledger.settings.media_bucket)), s.object_key,
                                   s.version_id, s.sha256.hex(), s.size, us_from_utc(s.start),
                                   s.media.container))  # fmt: skip
    note, left_out = packaged_note(view.note, origin, witnesses)
    return CameraEvidence(camera_id, origin, first, end, entries, proof, note, tuple(prunes), tuple(segs), report,
                          left_out, ongoing, ev.clock_before)  # fmt: skip


def _last_end(report: RangeReport) -> int | None:
    """The latest end of the segment and gap entries of ``report``."""
    ends = [us_from_utc(e.payload.end) for e in report.entries if isinstance(e.payload, (Segment, Gap))]
    return max(ends) if ends else None


def require_quorum(ev: CameraEvidence, keys: Sequence[VerifierKey], quorum: int) -> int:
    """The number of distinct witnesses among ``keys`` that cosigned ``ev``'s checkpoint (the
    builder submits it to the witnesses first, :mod:`archive.ledger.witnessing`).

    Raises:
        ConflictError: fewer than ``quorum`` (the export can be built again once the witnesses
            have answered).
    """
    try:
        found = len(verify_cosignatures(SignedNote.parse(ev.checkpoint_note), list(keys)))
    except IntegrityError:  # packaged_note kept only lines that verify: cannot happen
        found = 0
    if found < quorum:
        why = "; ".join(ev.cosignatures_left_out) or "no witness answered yet, or none was reached"
        raise ConflictError(f"camera {ev.camera_id}: the checkpoint of size {ev.proof.tree_size} has {found} of the "
                            f"{quorum} witness cosignatures [export] witness_policy needs ({why})")  # fmt: skip
    return found
