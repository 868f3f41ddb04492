"""The audit entry format: canonical bytes, strict parsing, cleaning of request text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.audit.entry import AuditRecord, Result, clean, decode, encode, result_for_status
from archive.integrity import canonical_json
from archive.integrity.encoding import parse_canonical
from archive.integrity.errors import IntegrityError

REC = AuditRecord(at_us=1_741_942_800_123_456, ip="10.0.0.7", action="recordings.search", method="GET",
                  path="/api/v1/recordings", status=200, actor="inv1", agency="police", role="investigator",
                  token="0123456789abcdef", target={"query.camera": ["cam-a", "cam-b"]}, detail={"segments": 360})


def test_round_trip_and_chain_fields() -> None:
    data = encode(REC, log="archive.mojokerto/audit", seq=5, prev=bytes(range(32)))
    assert data == canonical_json(parse_canonical(data))
    entry = decode(data)
    assert (entry.log, entry.seq, entry.prev) == ("archive.mojokerto/audit", 5, bytes(range(32)))
    assert entry.record == REC
    assert b'"at":"2025-03-14T09:00:00.123456Z"' in data and b'"result":"ok"' in data


def test_results() -> None:
    assert [result_for_status(s) for s in (200, 302, 401, 403, 404, 409, 422, 500, 503)] == [
        Result.OK, Result.OK, Result.DENIED, Result.DENIED, Result.REJECTED, Result.REJECTED, Result.REJECTED,
        Result.FAILED, Result.FAILED]


def test_tampered_bytes_are_refused() -> None:
    data = encode(REC, log="l/audit", seq=0, prev=bytes(32))
    for bad in (data.replace(b'"status":200', b'"status":403'),  # result contradicts status
                data.replace(b'"seq":0', b'"seq": 0'),  # not canonical
                data.replace(b'"v":"archive-audit/1"', b'"v":"archive-log/1"'),
                data[:-1]):
        with pytest.raises(IntegrityError):
            decode(bad)


def test_cleaning() -> None:
    assert clean("a\x00b\x1f") == "a\\u0000b\\u001f"
    assert clean("x" * 2000).endswith("…") and len(clean("x" * 2000)) == 512
    assert clean(1.5) == "1.5" and clean(2**60) == str(2**60)
    assert clean(list(range(100)))[-1] == "…"
    assert clean({"a": {"b": {"c": {"d": {"e": 1}}}}}) == {"a": {"b": {"c": {"d": "{'e': 1}"}}}}


@settings(max_examples=300)
@given(st.text(), st.dictionaries(st.text(max_size=20), st.one_of(st.text(), st.integers(), st.floats(),
                                                                   st.none(), st.booleans()), max_size=8))
def test_any_request_text_encodes_canonically(text: str, detail: dict[str, object]) -> None:
    rec = AuditRecord(at_us=0, ip=text, action=text or "x", method="GET", path=text, status=400, actor=text,
                      target={"q": text}, detail=detail)
    data = encode(rec, log="l/audit", seq=1, prev=bytes(32))
    assert decode(data).seq == 1
