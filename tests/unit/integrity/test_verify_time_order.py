"""SPEC.md 8 step 8 (time order): overlapping timeline entries and times after what was logged or
signed later fail verification; they are not notes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archive.integrity import (
    ALG_COSIGNATURE_V1,
    Clock,
    IntegrityError,
    Payload,
    Signer,
    check_time_coverage,
    cosign,
    range_proof,
    verify_range,
)

from .support import SEG, T0, build_log, segment, timeline

WITNESS = Signer.from_seed("witness.example/w1", bytes([9]) * 32, ALG_COSIGNATURE_V1)


def _burst_as_the_old_writer_dated_it() -> list[Payload]:
    """What the old recorder logged for a source bursting at connect: 10 s segments 0.1 s apart."""
    out: list[Payload] = [Clock(at=T0, synced=True, source="chrony", offset_us=-150, max_error_us=2000, stratum=2)]
    out += [segment(i, T0 + timedelta(milliseconds=100 * i)) for i in range(7)]
    return out


def test_overlapping_segments_fail_verification_with_the_seqs_named() -> None:
    log = build_log(_burst_as_the_old_writer_dated_it())
    entries, proof = log.data[1:], range_proof(1, log.writer.size, log.writer.size, log.tree)
    with pytest.raises(IntegrityError, match=r"seq 2 starts 9900000 us before seq 1 ends \(overlap") as info:
        verify_range(entries, proof, log.note(), [log.signer.verifier_key])
    assert info.value.seq == 2
    with pytest.raises(IntegrityError, match="overlap"):
        check_time_coverage([a.entry for a in log.appended])


def test_an_overlap_within_the_tolerance_is_reported_not_failed() -> None:
    payloads = timeline(3)
    payloads.append(segment(3, T0 + 3 * SEG - timedelta(milliseconds=4)))
    log = build_log(payloads)
    _, notes = check_time_coverage([a.entry for a in log.appended])
    assert any("4000 us before seq 3 ends" in n for n in notes)
    with pytest.raises(IntegrityError, match="overlap"):
        check_time_coverage([a.entry for a in log.appended], tolerance_us=0)


def test_a_segment_ending_after_a_later_clock_reading_fails() -> None:
    payloads = timeline(3)  # segments end at T0 + 30 s
    payloads.append(Clock(at=T0 + 2 * SEG, synced=True, source="chrony", offset_us=0, max_error_us=900, stratum=2))
    log = build_log(payloads)
    with pytest.raises(IntegrityError, match=r"seq 3 ends .* after seq 4 .* was read"):
        check_time_coverage([a.entry for a in log.appended])


def test_a_segment_ending_after_the_witness_cosigned_fails() -> None:
    log = build_log(timeline(3))  # the last segment ends at T0 + 30 s
    key = [log.signer.verifier_key]
    entries, proof = log.data, range_proof(0, log.writer.size, log.writer.size, log.tree)
    note = log.note()
    early = note.with_signature(cosign(note, WITNESS, int((T0 + 2 * SEG).timestamp())).to_note_signature())
    with pytest.raises(IntegrityError, match=r"ends .* after the checkpoint was cosigned"):
        verify_range(entries, proof, early, key, witness_keys=[WITNESS.verifier_key], witness_quorum=1)
    late = note.with_signature(cosign(note, WITNESS, int((T0 + 4 * SEG).timestamp())).to_note_signature())
    verify_range(entries, proof, late, key, witness_keys=[WITNESS.verifier_key], witness_quorum=1)
