"""Entries: canonical encoding, strict decoding, field validation (SPEC.md sections 2-3)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.integrity import (
    Clock,
    Entry,
    Gap,
    GapReason,
    KeyRotation,
    MalformedError,
    MediaInfo,
    NonCanonicalError,
    Payload,
    Prune,
    Segment,
    Signer,
    canonical_json,
    format_time,
    make_key_rotation,
    parse_time,
)
from archive.integrity.encoding import MAX_ENTRY_BYTES, parse_canonical

from .support import CAMERA, ORIGIN, T0, segment

# -- strategies ------------------------------------------------------------------------------

# Any Unicode the format allows: no C0/C1 controls, no surrogates. Includes quotes, backslashes,
# non-BMP characters and U+2028 (which JSON need not escape).
text_chars = st.characters(codec="utf-8")  # every code point except surrogates
allowed_text = text_chars.filter(lambda c: ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F)
texts = st.text(allowed_text, min_size=1, max_size=40)
times = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
safe_ints = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
nat = st.integers(min_value=0, max_value=2**53 - 1)
opt_dim = st.none() | st.integers(min_value=1, max_value=1 << 20)


@st.composite
def segments(draw: st.DrawFn) -> Segment:
    start = draw(times)
    return Segment(
        camera=draw(texts),
        object_key=draw(texts),
        version_id=draw(texts),
        sha256=draw(st.binary(min_size=32, max_size=32)),
        size=draw(nat),
        start=start,
        end=start + timedelta(microseconds=draw(st.integers(1, 10**9))),
        duration_us=draw(nat),
        clock_offset_us=draw(st.none() | safe_ints),
        camera_start=draw(st.none() | times),
        media=MediaInfo(
            container=draw(texts),
            codec=draw(texts),
            width=draw(opt_dim),
            height=draw(opt_dim),
            keyframe_start=draw(st.booleans()),
            partial=draw(st.booleans()),
        ),
    )


@st.composite
def payloads(draw: st.DrawFn) -> Payload:
    kind = draw(st.sampled_from(["segment", "gap", "prune", "clock"]))
    if kind == "segment":
        return draw(segments())
    if kind == "gap":
        start = draw(times)
        return Gap(
            camera=draw(texts),
            start=start,
            end=start + timedelta(microseconds=draw(st.integers(1, 10**10))),
            reason=draw(st.sampled_from(list(GapReason))),
            detail=draw(st.text(allowed_text, max_size=30)),
        )
    if kind == "prune":
        a = draw(st.integers(0, 10**6))
        return Prune(from_seq=a, to_seq=a + draw(st.integers(1, 1000)), rule=draw(texts), at=draw(times))
    return Clock(
        at=draw(times),
        synced=draw(st.booleans()),
        source=draw(texts),
        offset_us=draw(st.none() | safe_ints),
        max_error_us=draw(st.none() | nat),
        stratum=draw(st.none() | st.integers(0, 16)),
    )


def entry_of(p: Payload, seq: int = 2_000_000) -> Entry:
    return Entry(ORIGIN, seq, bytes(range(32)), p)


# -- canonical encoding ----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(payloads())
def test_roundtrip_and_fast_path_equals_generic(p: Payload) -> None:
    e = entry_of(p)
    data = e.encode()
    assert data == canonical_json(e.to_dict())  # hand-written segment encoder == generic
    assert data == json.dumps(e.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert Entry.decode(data) == e
    assert b"\n" not in data and b"\r" not in data


def test_key_order_and_exact_bytes() -> None:
    e = entry_of(segment(1, T0))
    data = e.encode()
    keys = list(json.loads(data))
    assert keys == sorted(keys)
    assert data.startswith(b'{"camera":"cam-7","camera_start":null,"clock_offset_us":-150,"duration_us":10000000,')
    assert b'"media":{"codec":"h264","container":"mpegts","height":720,"keyframe_start":true,' in data


def test_strings_escape_only_quote_and_backslash() -> None:
    s = segment(1, T0)
    odd = dataclasses.replace(s, object_key='a"b\\c/é\u2028😀')
    data = entry_of(odd).encode()
    assert '"object_key":"a\\"b\\\\c/é\u2028😀"'.encode() in data
    assert Entry.decode(data).payload == odd


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.replace(b",", b", ", 1),  # whitespace
        lambda b: b" " + b,
        lambda b: b + b"\n",
        lambda b: b.replace(b'"camera":"cam-7",', b"", 1)[:-1] + b',"camera":"cam-7"}',  # order
        lambda b: b.replace(b"cam-7", b"cam\\u002d7", 1),  # needless escape
        lambda b: b.replace(b'"size":8000', b'"size":8000.0', 1),  # float
        lambda b: b.replace(b'"size":8000', b'"size":8.0e3', 1),
        lambda b: b.replace(b'"size":8000', b'"size":NaN', 1),
        lambda b: b.replace(b'"size":8000', b'"size":02500001', 1),
        lambda b: b.replace(b'"clock_offset_us":-150', b'"clock_offset_us":-150,"clock_offset_us":-150', 1),
        lambda b: b"\xef\xbb\xbf" + b,  # BOM
        lambda b: b.replace(b"cam-7", b"cam\xff7", 1),  # not UTF-8
        lambda b: b.replace(b"cam-7", b"cam\\ud8007", 1),  # lone surrogate
        lambda b: b.replace(b'"sha256":"', b'"sha256":"A', 1).replace(b'","size"', b'","size"', 1),
        lambda b: b"[" + b + b"]",
    ],
)
def test_non_canonical_or_malformed_bytes_rejected(mutate: Any) -> None:
    data = entry_of(segment(1, T0)).encode()
    bad = mutate(data)
    assert bad != data
    with pytest.raises(MalformedError):
        Entry.decode(bad)


def test_non_canonical_is_its_own_error() -> None:
    data = entry_of(segment(1, T0)).encode()
    with pytest.raises(NonCanonicalError):
        Entry.decode(data.replace(b",", b", ", 1))
    with pytest.raises(NonCanonicalError):
        Entry.decode(data.replace(b'"cam-7"', b'"cam-\\u0037"', 1))


def test_ascii_escaped_form_is_not_canonical() -> None:
    s = segment(1, T0)
    odd = dataclasses.replace(s, camera="Kamera Süd")
    d = entry_of(odd).to_dict()
    ascii_form = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    with pytest.raises(NonCanonicalError):
        Entry.decode(ascii_form)


def test_size_limit() -> None:
    with pytest.raises(MalformedError):
        parse_canonical(b"{" + b" " * MAX_ENTRY_BYTES + b"}")


# -- field validation ------------------------------------------------------------------------


def as_dict(p: Payload) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(entry_of(p).encode())
    return d


def decode_dict(d: dict[str, Any]) -> Entry:
    return Entry.decode(canonical_json(d))


@pytest.mark.parametrize(
    "change",
    [
        {"v": "archive-log/2"},
        {"kind": "segments"},
        {"kind": "gap"},  # wrong field set for the kind
        {"extra": 1},
        {"seq": -1},
        {"seq": 2**53},
        {"seq": True},
        {"seq": "1"},
        {"prev": "00" * 31},
        {"prev": "AB" * 32},
        {"log": "has space"},
        {"log": "a+b"},
        {"log": ""},
        {"camera": ""},
        {"camera": "x" * 257},
        {"camera": "tab\there"},
        {"camera": "c1\u0085"},
        {"size": -1},
        {"size": 1.5},
        {"sha256": "00" * 33},
        {"start": "2025-06-01T12:00:00Z"},
        {"start": "2025-06-01T12:00:00.000000+00:00"},
        {"start": "2025-06-01t12:00:00.000000z"},
        {"start": "2025-02-30T12:00:00.000000Z"},
        {"start": "2025-06-01T12:00:60.000000Z"},
        {"start": "1969-12-31T23:59:59.000000Z"},
        {"start": "\uff12\uff10\uff12\uff15-06-01T12:00:00.000000Z"},  # fullwidth digits
        {"end": "2025-06-01T12:00:00.000000Z"},  # end == start
        {"duration_us": -5},
        {"clock_offset_us": "0"},
        {"media": {"codec": "h264"}},
        {"media": None},
        {"camera_start": ""},
    ],
)
def test_segment_field_rejections(change: dict[str, Any]) -> None:
    d = as_dict(segment(1, T0))
    d.update(change)
    with pytest.raises(MalformedError):
        decode_dict(d)


def test_missing_and_unknown_members_named() -> None:
    d = as_dict(segment(1, T0))
    del d["version_id"]
    d["versionid"] = "x"
    with pytest.raises(MalformedError, match=r"missing \['version_id'\].*unknown \['versionid'\]"):
        decode_dict(d)


def test_media_rejections() -> None:
    d = as_dict(segment(1, T0))
    for change in ({"width": 0}, {"height": True}, {"partial": 1}, {"keyframe_start": None}, {"fps": 25}):
        media = {**d["media"], **change}
        with pytest.raises(MalformedError):
            decode_dict({**d, "media": media})


def test_other_kinds_rejections() -> None:
    gap = as_dict(Gap(camera=CAMERA, start=T0, end=T0 + timedelta(seconds=1), reason=GapReason.STORE_DOWN))
    for change in ({"reason": "aliens"}, {"reason": 3}, {"detail": "x" * 4097}, {"end": gap["start"]}):
        with pytest.raises(MalformedError):
            decode_dict({**gap, **change})
    pr = as_dict(Prune(from_seq=0, to_seq=10, rule="r", at=T0))
    for change in ({"to_seq": 0}, {"from_seq": 10}, {"to_seq": 2_000_001}, {"rule": ""}):
        with pytest.raises(MalformedError):
            decode_dict({**pr, **change})
    ck = as_dict(Clock(at=T0, synced=True, source="chrony"))
    for change in ({"synced": "yes"}, {"stratum": 17}, {"max_error_us": -1}):
        with pytest.raises(MalformedError):
            decode_dict({**ck, **change})


def test_constructor_validation() -> None:
    with pytest.raises(MalformedError):
        segment(1, datetime(2025, 1, 1))  # naive
    with pytest.raises(MalformedError):
        Gap(camera=CAMERA, start=T0, end=T0, reason=GapReason.OTHER)
    with pytest.raises(MalformedError):
        Entry(ORIGIN, 5, bytes(32), Prune(from_seq=0, to_seq=6, rule="r", at=T0))
    with pytest.raises(MalformedError):
        Entry(ORIGIN, 0, bytes(31), segment(1, T0))
    assert Gap(camera=CAMERA, start=T0, end=T0 + timedelta(1), reason="other").reason is GapReason.OTHER  # type: ignore[arg-type]
    # non-UTC aware datetimes are normalized to UTC
    cest = timezone(timedelta(hours=2))
    s = segment(1, T0.astimezone(cest))
    assert s.start.tzinfo is UTC and s.start == T0


def test_key_rotation_roundtrip() -> None:
    old = Signer.from_seed(ORIGIN, bytes(32))
    new = Signer.from_seed(ORIGIN, bytes([1]) * 32)
    rot = make_key_rotation(ORIGIN, old, new.verifier_key, T0)
    e = entry_of(rot)
    assert Entry.decode(e.encode()) == e
    d = as_dict(rot)
    with pytest.raises(MalformedError):
        decode_dict({**d, "new_key": "not a key"})
    with pytest.raises(MalformedError):
        decode_dict({**d, "sig": "00" * 63})
    wrong_type = Signer.from_seed(ORIGIN, bytes(32), alg=0x04).verifier_key.encode()
    with pytest.raises(MalformedError):
        KeyRotation(at=T0, old_key_id=old.key_id, new_key=wrong_type, sig=bytes(64))


@settings(max_examples=200, deadline=None)
@given(times)
def test_time_format_roundtrip(t: datetime) -> None:
    s = format_time(t)
    assert len(s) == 27 and s.endswith("Z")
    assert parse_time(s, "t") == t


def test_time_format_sorts_chronologically() -> None:
    ts = [T0 + timedelta(microseconds=k * 999_983) for k in range(-5000, 5000, 37)]
    assert sorted(format_time(t) for t in ts) == [format_time(t) for t in sorted(ts)]


def test_key_entry_new_key_must_be_named_after_the_log() -> None:
    old = Signer.from_seed(ORIGIN, bytes(32))
    stranger = Signer.from_seed("elsewhere.example/log", bytes(32)).verifier_key.encode()
    rot = KeyRotation(at=T0, old_key_id=old.key_id, new_key=stranger, sig=bytes(64))
    with pytest.raises(MalformedError, match="log origin"):
        entry_of(rot)
