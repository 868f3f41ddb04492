"""End-to-end verification of an exported range (SPEC.md section 8)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.integrity import (
    ALG_COSIGNATURE_V1,
    ChainError,
    CompletenessError,
    Gap,
    GapReason,
    InclusionProof,
    IntegrityError,
    MediaMismatchError,
    ProofError,
    RangeProof,
    Segment,
    SignatureError,
    Signer,
    TimeOrderError,
    canonical_json,
    check_time_coverage,
    cosign,
    inclusion_proof,
    range_proof,
    verify_range,
)

from .support import CAMERA, ORIGIN, SEG, T0, BuiltLog, build_log, media_bytes, prune, segment, timeline

WITNESS = Signer.from_seed("witness.example/w1", bytes([9]) * 32, ALG_COSIGNATURE_V1)


def export(log: BuiltLog, lo: int, hi: int) -> tuple[list[bytes], RangeProof]:
    return log.data[lo:hi], range_proof(lo, hi, log.writer.size, log.tree)


def seg(log: BuiltLog, seq: int) -> Segment:
    p = log.appended[seq].entry.payload
    assert isinstance(p, Segment)
    return p


def seq_of_segment(log: BuiltLog, i: int) -> int:
    return next(
        a.seq
        for a in log.appended
        if isinstance(a.entry.payload, Segment) and a.entry.payload.object_key.endswith(f"-{i}.ts")
    )


def test_happy_path_with_time_range_and_witness() -> None:
    log = build_log(timeline(100, gap_at=50))
    note = log.note()
    note = note.with_signature(cosign(note, WITNESS, 1_750_000_000).to_note_signature())
    lo, hi = seq_of_segment(log, 40), seq_of_segment(log, 60) + 1
    entries, proof = export(log, lo, hi)
    start = seg(log, lo).start
    end = seg(log, hi - 1).end
    report = verify_range(
        entries,
        proof,
        note.encode(),
        [log.signer.verifier_key],
        origin=ORIGIN,
        time_from=start,
        time_to=end,
        witness_keys=[WITNESS.verifier_key],
        witness_quorum=1,
    )
    assert report.origin == ORIGIN and report.camera == CAMERA
    assert (report.start, report.end, report.checkpoint.size) == (lo, hi, log.writer.size)
    assert report.covered == (start, end)
    assert [c.name for c in report.cosignatures] == ["witness.example/w1"]
    assert any("gap" in n and "camera_unreachable" in n for n in report.notes)
    assert not any("hole" in n for n in report.notes)


def test_missing_witness_quorum() -> None:
    log = build_log(timeline(5))
    entries, proof = export(log, 1, 3)
    with pytest.raises(SignatureError, match="1 required"):
        verify_range(
            entries, proof, log.note(), [log.signer.verifier_key], witness_keys=[WITNESS.verifier_key], witness_quorum=1
        )


def test_untrusted_checkpoint_rejected() -> None:
    log = build_log(timeline(5))
    entries, proof = export(log, 1, 3)
    with pytest.raises(SignatureError):
        verify_range(entries, proof, log.note(), [Signer.from_seed(ORIGIN, bytes([3]) * 32).verifier_key])


def test_proof_for_other_size_or_count_rejected() -> None:
    log = build_log(timeline(20))
    entries, proof = export(log, 3, 9)
    older = range_proof(3, 9, 15, log.tree)
    with pytest.raises(ProofError, match="tree size 15"):
        verify_range(entries, older, log.note(), [log.signer.verifier_key])
    with pytest.raises(ProofError, match="entries exported"):
        verify_range(entries[:-1], proof, log.note(), [log.signer.verifier_key])


@st.composite
def attacks(draw: st.DrawFn) -> tuple[str, int, int, int, int]:
    n = draw(st.integers(min_value=6, max_value=60))
    lo = draw(st.integers(0, n - 3))
    hi = draw(st.integers(lo + 3, n))
    what = draw(st.sampled_from(["omit", "insert", "swap", "substitute"]))
    at = draw(st.integers(0, hi - lo - 2))
    return what, n, lo, hi, at


def rechain(entries: list[bytes], lo: int) -> list[bytes]:
    """What a forger would do: renumber seq and recompute every prev after the first entry."""
    out: list[bytes] = []
    for i, data in enumerate(entries):
        d = json.loads(data)
        d["seq"] = lo + i
        if i:
            d["prev"] = hashlib.sha256(out[-1]).hexdigest()
        elif lo == 0:
            d["prev"] = "00" * 32
        out.append(canonical_json(d))
    return out


@settings(max_examples=80, deadline=None)
@given(attacks())
def test_tampering_inside_range_detected_even_if_rechained(attack: tuple[str, int, int, int, int]) -> None:
    what, n, lo, hi, at = attack
    log = build_log(timeline(n))
    entries, proof = export(log, lo, hi)
    bad = list(entries)
    if what == "omit":
        del bad[at]
        bad.append(log.data[hi] if hi < len(log.data) else log.data[0])  # keep the count
    elif what == "insert":
        bad.insert(at, log.data[(hi + 1) % len(log.data)])
        bad.pop()
    elif what == "swap":
        bad[at], bad[at + 1] = bad[at + 1], bad[at]
    else:
        d = json.loads(bad[at])
        d["size" if "size" in d else "source"] = d.get("size", 0) + 1 if "size" in d else "forged"
        bad[at] = canonical_json(d)
    key = [log.signer.verifier_key]
    with pytest.raises((ChainError, ProofError)) as plain:
        verify_range(bad, proof, log.note(), key)
    assert f"log {ORIGIN}" in str(plain.value)
    with pytest.raises(ProofError):  # the chain is consistent again, the tree is not fooled
        verify_range(rechain(bad, lo), proof, log.note(), key)


def test_error_names_log_seq_and_difference() -> None:
    log = build_log(timeline(10))
    entries, proof = export(log, 2, 8)
    d = json.loads(entries[3])
    d["sha256"] = "ee" * 32
    entries[3] = canonical_json(d)
    with pytest.raises(ChainError) as err:
        verify_range(entries, proof, log.note(), [log.signer.verifier_key])
    assert err.value.log == ORIGIN and err.value.seq == 6
    assert str(err.value).startswith(f"log {ORIGIN} seq 6: prev is ")
    with pytest.raises(ProofError, match="give root"):
        verify_range(
            [*entries[:3], entries[3]],
            RangeProof(2, 6, proof.tree_size, range_proof(2, 6, 11, log.tree).hashes),
            log.note(),
            [log.signer.verifier_key],
        )


def test_time_coverage_holes_and_tolerance() -> None:
    payloads = timeline(10)
    # a hole of 2 s between segments 5 and 6 with no gap entry
    assert isinstance(payloads[7], Segment)
    t6 = payloads[7].start + timedelta(seconds=2)
    payloads[7:] = [segment(k, t6 + (k - 6) * SEG) for k in range(6, 10)]
    log = build_log(payloads)
    entries, proof = export(log, 1, 11)
    key = [log.signer.verifier_key]
    with pytest.raises(CompletenessError, match=r"2000000 us .* between seq 6 and seq 7"):
        verify_range(entries, proof, log.note(), key)
    report = verify_range(entries, proof, log.note(), key, tolerance_us=2_000_000)
    assert any("hole within tolerance: 2000000 us" in n for n in report.notes)
    assert report.tolerance_us == 2_000_000
    # requested range wider than the export
    with pytest.raises(CompletenessError, match="not covered after seq"):
        verify_range(entries, proof, log.note(), key, tolerance_us=2_000_000, time_to=t6 + 10 * SEG)
    with pytest.raises(CompletenessError, match="before seq"):
        verify_range(entries, proof, log.note(), key, tolerance_us=2_000_000, time_from=T0 - SEG)


def test_gap_entry_closes_the_hole() -> None:
    log = build_log(timeline(10, gap_at=5, gap_len=timedelta(minutes=7)))
    entries, proof = export(log, 1, log.writer.size)
    report = verify_range(entries, proof, log.note(), [log.signer.verifier_key], tolerance_us=0)
    assert report.covered is not None and report.covered[1] - report.covered[0] == timedelta(minutes=7) + 10 * SEG


def test_coverage_is_order_independent_and_fails_an_overlap() -> None:
    # segments 0..4, then a late-ingested segment that fills an earlier gap entry's interval:
    # an overlap, which fails since SPEC.md 8 step 8 (a) (the writer never dates one so, 9.1)
    log = build_log(timeline(4))
    entries = [a.entry for a in log.appended]
    covered, notes = check_time_coverage(entries, tolerance_us=0)
    assert covered == (T0, T0 + 4 * SEG) and notes == ()
    late = build_log(
        [
            *timeline(4),
            Gap(camera=CAMERA, start=T0 + 4 * SEG, end=T0 + 6 * SEG, reason=GapReason.STORE_DOWN),
            segment(9, T0 + 4 * SEG, T0 + 5 * SEG),
        ]
    )
    with pytest.raises(TimeOrderError, match=r"seq 6 starts 20000000 us before seq 5 ends \(overlap"):
        check_time_coverage([a.entry for a in late.appended], tolerance_us=0)
    with pytest.raises(CompletenessError):
        check_time_coverage([late.appended[0].entry], time_from=T0, time_to=T0 + SEG)  # clock entry only


def write_media(tmp: Path, log: BuiltLog) -> dict[int, Path]:
    files = {}
    for a in log.appended:
        if a.entry.kind == "segment":
            i = int(seg(log, a.seq).object_key.rsplit("-", 1)[1].split(".")[0])
            p = tmp / f"{a.seq}.ts"
            p.write_bytes(media_bytes(i))
            files[a.seq] = p
    return files


def test_media_checks(tmp_path: Path) -> None:
    payloads = timeline(6)
    log = build_log([*payloads, prune(1, 3)])
    files = write_media(tmp_path, log)
    entries, proof = export(log, 0, log.writer.size)
    key = [log.signer.verifier_key]
    report = verify_range(entries, proof, log.note(), key, media=files)
    assert report.pruned == ((1, 3),) and report.is_pruned(2) and not report.is_pruned(3)
    # pruned segments need no file
    del files[1], files[2]
    verify_range(entries, proof, log.note(), key, media=files)
    missing = dict(files)
    del missing[3]
    with pytest.raises(MediaMismatchError, match="seq 3: media file missing"):
        verify_range(entries, proof, log.note(), key, media=missing)
    files[4].write_bytes(b"x" * 8000)  # same size, other bytes
    with pytest.raises(MediaMismatchError, match=r"seq 4: .*SHA-256"):
        verify_range(entries, proof, log.note(), key, media=files)
    files[4].write_bytes(b"1234")
    with pytest.raises(MediaMismatchError, match=r"seq 4: .*4 bytes, the entry says 8000"):
        verify_range(entries, proof, log.note(), key, media=files)


def test_prune_entry_after_the_range_with_inclusion_proof(tmp_path: Path) -> None:
    payloads = timeline(6)
    log = build_log([*payloads, prune(2, 4)])
    files = write_media(tmp_path, log)
    del files[2], files[3]
    size = log.writer.size
    entries, proof = export(log, 1, 5)
    key = [log.signer.verifier_key]
    with pytest.raises(MediaMismatchError):
        verify_range(entries, proof, log.note(), key, media=files)
    incl = InclusionProof(size - 1, size, inclusion_proof(size - 1, size, log.tree))
    report = verify_range(entries, proof, log.note(), key, media=files, prunes=[(log.data[-1], incl)])
    assert report.pruned == ((2, 4),)
    bad = InclusionProof(size - 1, size, (bytes(32),) * len(incl.hashes))
    with pytest.raises(ProofError):
        verify_range(entries, proof, log.note(), key, media=files, prunes=[(log.data[-1], bad)])
    not_prune = InclusionProof(0, size, inclusion_proof(0, size, log.tree))
    with pytest.raises(IntegrityError):
        verify_range(entries, proof, log.note(), key, media=files, prunes=[(log.data[0], not_prune)])
