"""LogWriter, writer state, chain verification, key rotation (SPEC.md sections 2.6, 4, 9)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta

import pytest

from archive.integrity import (
    ZERO_HASH,
    ChainError,
    Entry,
    KeyRotation,
    LogWriter,
    MalformedError,
    Prune,
    SignatureError,
    Signer,
    WriterState,
    canonical_json,
    make_key_rotation,
    merkle_root,
    verify_entries,
    verify_key_rotation,
)

from .support import ORIGIN, T0, build_log, prune, segment, timeline


def test_writer_fills_envelope_and_chain() -> None:
    log = build_log(timeline(20))
    prev = ZERO_HASH
    for i, a in enumerate(log.appended):
        assert a.seq == i and a.entry.log == ORIGIN and a.entry.prev == prev
        assert a.entry_hash == hashlib.sha256(a.data).digest()
        assert a.leaf_hash == hashlib.sha256(b"\x00" + a.data).digest()
        assert Entry.decode(a.data) == a.entry
        prev = a.entry_hash
    assert log.writer.size == 21
    assert log.writer.root() == merkle_root([a.leaf_hash for a in log.appended]) == log.tree.root()
    cp = log.writer.checkpoint()
    assert (cp.origin, cp.size, cp.root) == (ORIGIN, 21, log.writer.root())
    assert verify_entries(log.data, origin=ORIGIN, start=0) == tuple(a.entry for a in log.appended)
    assert verify_entries(log.data[5:9], origin=ORIGIN, start=5)[0].seq == 5
    assert verify_entries(log.data[5:9], origin=ORIGIN, start=5, prev=log.appended[4].entry_hash)


def test_state_resume_equals_uninterrupted() -> None:
    payloads = timeline(50)
    whole = build_log(payloads)
    w = LogWriter(ORIGIN)
    for p in payloads[:17]:
        w.append(p)
    saved = json.loads(canonical_json(w.state().to_dict()))
    resumed = LogWriter(ORIGIN, WriterState.from_dict(saved))
    rest = [resumed.append(p) for p in payloads[17:]]
    assert [a.data for a in rest] == whole.data[17:]
    assert resumed.root() == whole.writer.root()
    with pytest.raises(MalformedError):
        LogWriter("test.example/log/other", WriterState.from_dict(saved))
    with pytest.raises(MalformedError):
        WriterState(ORIGIN, 3, bytes(32), (bytes(32),))
    with pytest.raises(MalformedError):
        WriterState(ORIGIN, 0, bytes([1]) * 32, ())
    with pytest.raises(MalformedError):
        WriterState.from_dict({**saved, "extra": 1})


def test_failed_append_changes_nothing() -> None:
    w = LogWriter(ORIGIN)
    w.append(segment(0, T0))
    before = w.state()
    with pytest.raises(MalformedError):
        w.append(Prune(from_seq=0, to_seq=5, rule="r", at=T0))  # names seqs not yet written
    assert w.state() == before
    w.append(prune(0, 1))
    assert w.size == 2


def test_chain_break_detection() -> None:
    log = build_log(timeline(10))
    data = list(log.data)

    # an entry altered in the middle (re-encoded canonically, so it still parses)
    d = json.loads(data[4])
    d["size"] += 1
    altered = [*data[:4], canonical_json(d), *data[5:]]
    with pytest.raises(ChainError, match=r"seq 5: prev is .* expected SHA-256 of entry 4"):
        verify_entries(altered, origin=ORIGIN, start=0)

    # an entry omitted
    with pytest.raises(ChainError, match="seq 4: entry says seq 5"):
        verify_entries(data[:4] + data[5:], origin=ORIGIN, start=0)

    # two entries swapped
    with pytest.raises(ChainError):
        verify_entries([*data[:3], data[4], data[3], *data[5:]], origin=ORIGIN, start=0)

    # re-sequenced omission (seq fixed, prev not): caught by prev
    d5 = json.loads(data[5])
    d5["seq"] = 4
    with pytest.raises(ChainError, match="prev"):
        verify_entries([*data[:4], canonical_json(d5)], origin=ORIGIN, start=0)

    # wrong log, wrong start, non-zero prev of entry 0, wrong given prev
    with pytest.raises(ChainError, match="belongs to log"):
        verify_entries(data, origin="test.example/log/other", start=0)
    with pytest.raises(ChainError):
        verify_entries(data[2:], origin=ORIGIN, start=3)
    d0 = json.loads(data[0])
    d0["prev"] = "11" * 32
    with pytest.raises(ChainError, match="zero hash"):
        verify_entries([canonical_json(d0)], origin=ORIGIN, start=0)
    with pytest.raises(ChainError):
        verify_entries(data[3:], origin=ORIGIN, start=3, prev=log.appended[1].entry_hash)

    # malformed entry: the error names log and seq
    with pytest.raises(MalformedError, match=rf"log {ORIGIN} seq 2: "):
        verify_entries([*data[:2], data[2] + b" "], origin=ORIGIN, start=0)


def test_camera_must_not_change_within_a_log() -> None:
    payloads = [segment(0, T0), segment(1, T0 + timedelta(seconds=10), camera="cam-8")]
    log = build_log(payloads)
    with pytest.raises(ChainError, match="camera"):
        verify_entries(log.data, origin=ORIGIN, start=0)


def test_key_rotation() -> None:
    old = Signer.from_seed(ORIGIN, bytes(32))
    new = Signer.from_seed(ORIGIN, bytes([5]) * 32)
    log = build_log([*timeline(2), make_key_rotation(ORIGIN, old, new.verifier_key, T0)])
    entry = log.appended[-1].entry
    assert verify_key_rotation(entry, old.verifier_key) == new.verifier_key
    with pytest.raises(SignatureError):
        verify_key_rotation(entry, new.verifier_key)  # not the old key
    rot = entry.payload
    assert isinstance(rot, KeyRotation)
    forged = dataclasses.replace(entry, payload=dataclasses.replace(rot, at=T0 + timedelta(seconds=1)))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_key_rotation(forged, old.verifier_key)
    with pytest.raises(MalformedError):
        verify_key_rotation(log.appended[0].entry, old.verifier_key)
    with pytest.raises(MalformedError):
        make_key_rotation(ORIGIN, old, Signer.from_seed("x.example/other", bytes(32)).verifier_key, T0)
