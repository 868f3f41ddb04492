"""SPEC.md Appendix A and section 2.7 agree with the code, byte for byte."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import archive.integrity
from archive.integrity import (
    ALG_COSIGNATURE_V1,
    Clock,
    CompletenessError,
    Gap,
    GapReason,
    LogWriter,
    MediaInfo,
    Payload,
    RangeProof,
    Segment,
    SignedNote,
    Signer,
    TreeHashes,
    VerifierKey,
    cosign,
    range_proof,
    sign_checkpoint,
    verify_cosignatures,
    verify_range,
)

SPEC = (Path(archive.integrity.__file__).parent / "SPEC.md").read_text(encoding="utf-8")
ORIGIN = "cctv.example.org/log/cam-0042"
T0 = datetime(2025, 3, 14, 9, 26, 50, tzinfo=UTC)


def build() -> tuple[LogWriter, list[bytes], list[bytes]]:
    w = LogWriter(ORIGIN)
    payloads: list[Payload] = [
        Clock(at=T0, synced=True, source="chrony", offset_us=-120, max_error_us=2500, stratum=2),
        Segment(
            camera="cam-0042",
            object_key="cam-0042/2025/03/14/092650.ts",
            version_id="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
            sha256=bytes.fromhex("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            size=2512384,
            start=T0,
            end=T0 + timedelta(seconds=10),
            duration_us=10_000_000,
            clock_offset_us=-120,
            media=MediaInfo(
                container="mpegts", codec="h264", width=1280, height=720, keyframe_start=True, partial=False
            ),
        ),
        Gap(
            camera="cam-0042",
            start=T0 + timedelta(seconds=10),
            end=T0 + timedelta(seconds=10, microseconds=250_000),
            reason=GapReason.CAMERA_UNREACHABLE,
            detail="RTSP timeout",
        ),
    ]
    appended = [w.append(p) for p in payloads]
    return w, [a.data for a in appended], [a.leaf_hash for a in appended]


def code_blocks() -> list[str]:
    return re.findall(r"```\n(.*?)```", SPEC, flags=re.S)


def test_entries_and_hashes_in_spec() -> None:
    _, data, leaves = build()
    block = next(b for b in code_blocks() if b.startswith('{"at":"2025-03-14'))
    assert block.splitlines() == [d.decode() for d in data]
    for seq, (d, leaf) in enumerate(zip(data, leaves, strict=True)):
        row = f"| {seq} | `{hashlib.sha256(d).hexdigest()}` | `{leaf.hex()}` |"
        assert row in SPEC, row


def test_keys_checkpoint_cosignature_and_proof_in_spec() -> None:
    w, data, leaves = build()
    log_key = Signer.from_seed(ORIGIN, bytes(range(32)))
    witness = Signer.from_seed("witness.example.net/w1", bytes(range(32, 64)), ALG_COSIGNATURE_V1)
    assert log_key.encode() in SPEC and log_key.verifier_key.encode() in SPEC
    assert witness.verifier_key.encode() in SPEC
    note = sign_checkpoint(w.checkpoint(), log_key)  # Ed25519 is deterministic
    cosigned = note.with_signature(cosign(note, witness, 1741944420).to_note_signature()).encode()
    assert cosigned in code_blocks()
    parsed = SignedNote.parse(cosigned)
    assert [c.timestamp for c in verify_cosignatures(parsed, [VerifierKey.parse(witness.verifier_key.encode())])] == [
        1741944420
    ]
    proof = range_proof(1, 2, 3, TreeHashes.from_list(leaves))
    assert proof.to_json().decode() + "\n" in code_blocks()
    # and the verifier walk-through of the appendix
    keys = [log_key.verifier_key]
    report = verify_range(
        data[1:2],
        RangeProof.from_json(proof.to_json()),
        cosigned,
        keys,
        time_from=T0,
        time_to=T0 + timedelta(seconds=10),
    )
    assert report.notes == ()
    late = T0 + timedelta(seconds=10, microseconds=250_000)
    with pytest.raises(CompletenessError):
        verify_range(data[1:2], proof, cosigned, keys, time_from=T0, time_to=late, tolerance_us=0)
    report = verify_range(data[1:2], proof, cosigned, keys, time_from=T0, time_to=late)
    assert any("250000 us" in n for n in report.notes)
    whole = range_proof(0, 3, 3, TreeHashes.from_list(leaves))
    assert whole.hashes == ()
    report = verify_range(data, whole, cosigned, keys, time_from=T0, time_to=late, tolerance_us=0)
    assert not any("hole" in n for n in report.notes)
