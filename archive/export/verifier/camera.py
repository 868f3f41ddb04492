"""Per-camera checks of a package: the log range against its signed checkpoint (SPEC.md 8,
via ``integrity.verify_range``), the checkpoint's witness cosignatures (:mod:`.witness`),
completeness of the requested range, and every segment file against its log entry.

A camera section with an ``ongoing_outage`` (EXPORT-SPEC.md 4.1) is checked for completeness up
to the outage's ``from`` only, which must be where the exported segment and gap entries end and
inside the requested range, with the entries running to the end of the signed tree; the rest of
the range is reported as not covered (the log vouches for none of it), never counted as covered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import ABSENT, check_clock_before
from .formats import CAMERA, FormatError, Trust
from .outcome import CheckBuilder
from .timestamps import NO_TSA, TimestampFile, TsaTrust, check_camera_timestamp
from .witness import check_cosignatures
from .wording import ongoing_sentence

if TYPE_CHECKING or __name__.startswith("archive."):
    from archive import integrity as itg
else:  # inside a package: the copy of integrity/ beside this folder
    import integrity as itg

__all__ = ["CameraFiles", "Ongoing", "check_camera"]


@dataclass(frozen=True)
class Ongoing:
    """A camera section's ``ongoing_outage``: archive times ``start`` (the log's last instant,
    manifest ``from``) and ``until`` (the build), and the recorder's state then."""

    start: str
    until: str
    state: str

    @classmethod
    def parse(cls, d: Any) -> Ongoing | None:
        """Parse ``ongoing_outage`` (None or absent: none). Raises FormatError (also for one said
        to be logged: an ongoing outage never is)."""
        if d is None:
            return None
        if not isinstance(d, dict) or d.get("logged") is not False:
            raise FormatError("ongoing_outage must be an object with \"logged\": false (an outage still going on "
                              "is not yet logged)")  # fmt: skip
        if not all(isinstance(d.get(k), str) for k in ("from", "until", "state")):
            raise FormatError("ongoing_outage needs the strings from, until and state")
        return cls(d["from"], d["until"], d["state"])


@dataclass(frozen=True)
class CameraFiles:
    """What a camera section of the manifest names (parsed; ``segments`` maps seq to path)."""

    camera: str
    log: str
    entries: str
    first: int
    end: int
    proof: str
    checkpoint: str
    size: int
    root: str
    segments: Mapping[int, str]
    prunes: str | None
    prune_proofs: str | None
    working_copy: str | None
    ongoing: Ongoing | None = None
    clock_before: int | None = ABSENT
    still: str | None = None
    timestamp: TimestampFile | None = None

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> CameraFiles:
        """Parse one ``cameras[]`` item. Raises FormatError (KeyError/TypeError are wrapped)."""
        try:
            segs: dict[int, str] = {}
            for s in d["segments"]:
                seq = s["seq"]
                if type(seq) is not int or seq in segs or not isinstance(s["path"], str):
                    raise FormatError(f"bad or repeated segment seq {seq!r}")
                segs[seq] = s["path"]
            prunes = d.get("prunes")
            wc = d.get("working_copy")
            out = cls(camera=str(d["id"]), log=str(d["log"]), entries=str(d["entries"]["path"]),
                      first=int(d["entries"]["start"]), end=int(d["entries"]["end"]),
                      proof=str(d["range_proof"]), checkpoint=str(d["checkpoint"]["path"]),
                      size=int(d["checkpoint"]["size"]), root=str(d["checkpoint"]["root"]), segments=segs,
                      prunes=str(prunes["path"]) if prunes else None,
                      prune_proofs=str(prunes["proofs"]) if prunes else None,
                      working_copy=str(wc["path"]) if wc else None,
                      ongoing=Ongoing.parse(d.get("ongoing_outage")),
                      clock_before=_clock_before(d),
                      still=str(d["still"]["path"]) if d.get("still") else None,
                      timestamp=TimestampFile.parse(d.get("timestamp")))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"manifest camera section is malformed: {exc!r}") from exc
        return out


def _clock_before(d: Mapping[str, Any]) -> int | None:
    if "clock_before" not in d:
        return ABSENT
    v = d["clock_before"]
    if v is not None and (type(v) is not int or v < 0):
        raise FormatError(f"clock_before must be a seq (int >= 0) or null, not {v!r}")
    return v if v is None else int(v)


def _lines(data: bytes, what: str) -> list[bytes]:
    if not data.endswith(b"\n"):
        raise FormatError(f"{what}: the last line does not end with a newline")
    return data[:-1].split(b"\n") if data != b"\n" else []


def check_camera(cam: CameraFiles, read: Any, actual: Mapping[str, tuple[str, int]], trust: Trust,
                 time_from: datetime, time_to: datetime, tolerance_us: int, chk: CheckBuilder,
                 witnesses: Sequence[itg.VerifierKey] = (),
                 required: Sequence[itg.VerifierKey] = (), quorum: int | None = None,
                 tsa: TsaTrust = NO_TSA) -> list[str]:  # fmt: skip
    """Run the checks of one camera into ``chk``; return facts for the report.

    ``read(path) -> bytes`` reads a small package file; ``actual`` maps path to the
    (SHA-256, size) computed from the package's bytes; ``witnesses`` are the known witness
    keys, ``required`` those that must have cosigned (``--witness``), or ``quorum`` of them;
    ``tsa``: the TSA certificates given (``--tsa-cert``) for the time-stamp token (:mod:`.timestamps`).
    """
    facts: list[str] = []
    try:
        entries = _lines(read(cam.entries), cam.entries)
        proof = itg.RangeProof.from_json(read(cam.proof).removesuffix(b"\n"))
        note = read(cam.checkpoint).decode("utf-8")
        prunes: list[tuple[bytes, itg.InclusionProof]] = []
        if cam.prunes and cam.prune_proofs:
            pl = _lines(read(cam.prunes), cam.prunes)
            pp = [itg.InclusionProof.from_json(x) for x in _lines(read(cam.prune_proofs), cam.prune_proofs)]
            if len(pl) != len(pp):
                raise FormatError(f"{cam.prunes}: {len(pl)} prune entries but {len(pp)} inclusion proofs")
            prunes = list(zip(pl, pp, strict=True))
    except (KeyError, OSError, UnicodeDecodeError, FormatError, itg.IntegrityError) as exc:
        chk.fail(f"cannot read the log files: {exc}")
        return facts
    _check_identity(cam, chk)
    covered_to = _ongoing_start(cam, time_from, time_to, chk)
    if covered_to is None:
        return facts
    if (proof.start, proof.end, proof.tree_size) != (cam.first, cam.end, cam.size):
        chk.fail(f"manifest says entries [{cam.first}, {cam.end}) of a tree of size {cam.size}, the range proof is "
                 f"for [{proof.start}, {proof.end}) of {proof.tree_size}")  # fmt: skip
    decoded: list[itg.Entry] = []
    pruned: list[tuple[int, int]] = []
    try:
        rep = itg.verify_range(entries, proof, note, trust.keys_for(cam.log, CAMERA), origin=cam.log,
                               time_from=time_from, time_to=covered_to, tolerance_us=tolerance_us,
                               prunes=prunes)  # fmt: skip
        decoded, pruned = list(rep.entries), list(rep.pruned)
        signers = ", ".join(f"{k.name}+{k.key_id.hex()}" for k in rep.signed_by)
        chk.note(f"log {cam.log}: entries [{rep.start}, {rep.end}) rebuild the root {rep.checkpoint.root.hex()} of "
                 f"the checkpoint of size {rep.checkpoint.size} signed by {signers}")  # fmt: skip
        if rep.checkpoint.root.hex() != cam.root:
            chk.fail(f"manifest names checkpoint root {cam.root}, the checkpoint has {rep.checkpoint.root.hex()}")
        if rep.covered is not None:
            a, b = (itg.format_time(t) for t in rep.covered)
            upto = " (up to its ongoing outage)" if cam.ongoing is not None else ""
            chk.note(f"requested range {a} .. {b}{upto} is covered by segment and gap entries "
                     f"(holes up to {rep.tolerance_us} us tolerated and reported)")  # fmt: skip
        facts.extend(f"{cam.camera}: {n}" for n in rep.notes)
        if cam.ongoing is not None:
            facts.append(_check_ongoing(cam, cam.ongoing, rep, covered_to, time_to, chk))
    except itg.IntegrityError as exc:
        chk.fail(str(exc))
        for i, data in enumerate(entries):
            try:
                decoded.append(itg.Entry.decode(data))
            except itg.IntegrityError:
                chk.fail(f"entry line {i + 1} of {cam.entries} does not decode; its segment is not checked")
    check_cosignatures(note, cam.log, witnesses, required, chk, quorum)
    stamped = check_camera_timestamp(cam.camera, cam.timestamp, note, decoded, read, tsa, tolerance_us, chk)
    if stamped is not None:
        facts.append(stamped)
    facts.append(check_clock_before(cam.camera, cam.clock_before, cam.first, decoded, chk))
    _check_entry_cameras(cam, decoded, chk)
    _check_segments(cam, decoded, pruned, actual, chk, facts)
    if cam.working_copy:
        got = actual.get(cam.working_copy)
        shown = f"SHA-256 {got[0]}, {got[1]} bytes" if got else "missing"
        chk.note(f"derived working copy {cam.working_copy} ({shown}): a convenience, not evidence")
    if cam.still:
        got = actual.get(cam.still)
        shown = f"SHA-256 {got[0]}, {got[1]} bytes" if got else "missing"
        chk.note(f"derived still frame {cam.still} ({shown}): the first keyframe for people, not evidence")
    return facts


def _ongoing_start(cam: CameraFiles, time_from: datetime, time_to: datetime, chk: CheckBuilder) -> datetime | None:
    """Where the log must cover the range to: ``time_to``, or the start of the camera's ongoing
    outage when that lies inside the range and before its ``until`` (None, with a failure, else)."""
    if cam.ongoing is None:
        return time_to
    try:
        start = itg.parse_time(cam.ongoing.start, "ongoing outage from")
        until = itg.parse_time(cam.ongoing.until, "ongoing outage until")
    except itg.IntegrityError as exc:
        chk.fail(f"ongoing outage: {exc}")
        return None
    if not time_from < start < time_to <= until:
        chk.fail(
            f"ongoing outage from {cam.ongoing.start} until {cam.ongoing.until}: it must begin inside the "
            f"requested range {itg.format_time(time_from)} .. {itg.format_time(time_to)} and last to its end"
        )
        return None
    return start


def _check_ongoing(cam: CameraFiles, oo: Ongoing, rep: itg.RangeReport, start: datetime, time_to: datetime,
                   chk: CheckBuilder) -> str:  # fmt: skip
    """An ongoing outage begins where the camera's exported log ends (the end of its last segment
    or gap entry): one said to begin earlier would pass logged time off as an outage; and the
    entries run to the end of the signed tree, so no segment or gap follows. Returns the fact for
    people."""
    ends = [e.payload.end for e in rep.entries if isinstance(e.payload, (itg.Segment, itg.Gap))]
    last = max(ends) if ends else None
    if last != start:
        shown = itg.format_time(last) if last is not None else "nowhere (no segment or gap entry)"
        chk.fail(f"ongoing outage from {oo.start}: the exported log's last segment or gap ends at {shown}; an "
                 "ongoing outage begins where the camera's log ends")  # fmt: skip
    if cam.end != cam.size:
        chk.fail(
            f"ongoing outage from {oo.start}: the exported entries end at seq {cam.end} of a tree of size "
            f"{cam.size}; they must run to the end of the signed log to show that no segment or gap follows"
        )
    said = ongoing_sentence(cam.camera, start, oo.until, time_to, oo.state)
    chk.note(said)
    return said


def _check_identity(cam: CameraFiles, chk: CheckBuilder) -> None:
    """One camera, one log: the log's origin names the camera of this section (SPEC.md 2.1: a
    camera's log is ``<prefix>/camera/<camera id>``), so a genuine log of another camera cannot
    stand in for this one (a relabelled folder)."""
    if not cam.log.endswith(f"/camera/{cam.camera}") or cam.log == f"/camera/{cam.camera}":
        chk.fail(f"camera {cam.camera}: its log is {cam.log}, which is not this camera's log (a camera's log is "
                 f"<prefix>/camera/{cam.camera}): the section was relabelled or mixed up")  # fmt: skip


def _check_entry_cameras(cam: CameraFiles, decoded: list[itg.Entry], chk: CheckBuilder) -> None:
    """Every entry that names a camera names this one (a segment, gap or prune of another camera
    inside this camera's range is refused, whoever signed it)."""
    for e in decoded:
        named = getattr(e.payload, "camera", None)
        if named is not None and named != cam.camera:
            chk.fail(f"seq {e.seq}: a {e.kind} entry of camera {named!r} in the log exported as camera {cam.camera}")


def _check_segments(cam: CameraFiles, decoded: list[itg.Entry], pruned: list[tuple[int, int]],
                    actual: Mapping[str, tuple[str, int]], chk: CheckBuilder, facts: list[str]) -> None:  # fmt: skip
    seen: set[int] = set()
    checked = 0
    for e in decoded:
        seg = e.payload
        if not isinstance(seg, itg.Segment):
            continue
        seen.add(e.seq)
        if any(lo <= e.seq < hi for lo, hi in pruned):
            facts.append(f"{cam.camera}: seq {e.seq}: media deleted by retention before the export "
                         f"(log entry kept: {seg.object_key})")  # fmt: skip
            continue
        path = cam.segments.get(e.seq)
        if path is None:
            chk.fail(f"seq {e.seq}: the manifest names no media file for this segment entry ({seg.object_key})")
            continue
        got = actual.get(path)
        if got is None:
            chk.fail(f"seq {e.seq}: segment file {path} is missing from the package")
            continue
        digest, size = got
        if digest != seg.sha256.hex() or size != seg.size:
            chk.fail(f"seq {e.seq}: segment file {path} has SHA-256 {digest} ({size} bytes), its log entry says "
                     f"{seg.sha256.hex()} ({seg.size} bytes)")  # fmt: skip
            continue
        checked += 1
    for seq in sorted(set(cam.segments) - seen):
        chk.fail(f"seq {seq}: the manifest lists segment file {cam.segments[seq]} but no exported segment entry "
                 "has this seq")  # fmt: skip
    chk.note(f"{checked} segment files match their log entries (SHA-256 and size)")
