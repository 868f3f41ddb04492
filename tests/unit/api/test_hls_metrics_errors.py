"""HLS playlists, the Prometheus exposition and the one error mapping."""

from __future__ import annotations

from litestar.exceptions import NotFoundException, ValidationException

from archive.api.errors import problem
from archive.api.hls import build_playlist
from archive.api.metrics import ApiMetrics, render
from archive.api.ports import Metric
from archive.errors import (
    CatalogError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ObjectLockedError,
    Problem,
    StorageUnavailableError,
    ToolError,
    UnauthenticatedError,
    UserError,
    ValidationError,
)
from archive.integrity.errors import ChainError
from archive.search.model import SegmentRef
from archive.search.times import TimeFormatter, load_zone

T = TimeFormatter(load_zone("Asia/Jakarta"))
T0 = 1_741_942_800_000_000  # 2025-03-14T09:00:00Z


def ref(seq: int, start_s: int, *, pruned: bool = False, codec: str = "h264", partial: bool = False) -> SegmentRef:
    s = T0 + start_s * 1_000_000
    return SegmentRef("cam-a", seq, "media", f"cam-a/{seq}.ts", f"v{seq}", "ab" * 32, 1000, s, s + 10_000_000,
                      10_000_000, "mpegts", codec, 1280, 720, partial, pruned)


def test_playlist() -> None:
    refs = [ref(0, 0, pruned=True), ref(1, 10), ref(2, 20), ref(4, 60), ref(5, 70, codec="hevc"), ref(6, 80)]
    text = build_playlist(refs, [f"https://s3/{r.seq}" for r in refs], T, camera_id="cam-a", start_us=T0,
                          end_us=T0 + 90_000_000)
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-TARGETDURATION:10" in lines and "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert "https://s3/0" not in text and any(line.startswith("# seq 0 pruned") for line in lines)
    pdt = [line for line in lines if line.startswith("#EXT-X-PROGRAM-DATE-TIME:")]
    assert pdt[0] == "#EXT-X-PROGRAM-DATE-TIME:2025-03-14T09:00:10.000Z" and len(pdt) == 5
    assert text.count("#EXT-X-DISCONTINUITY") == 3  # hole before seq 4, codec change at 5 and back at 6
    assert lines.index("https://s3/1") < lines.index("https://s3/2")
    assert "#EXTINF:10.000,seq 1" in lines


def test_exposition_format() -> None:
    m = ApiMetrics()
    m.observe("recordings", "GET", 200, 0.003)
    m.observe("recordings", "GET", 200, 0.2)
    text = render([*m.samples(), Metric("archive_x", "with \"quotes\"", "gauge", 1.5, (("camera", 'a"b\\c'),))])
    assert "# TYPE archive_api_requests_total counter" in text
    assert 'archive_api_requests_total{route="recordings",method="GET",status="200"} 2' in text
    assert 'archive_api_request_seconds_bucket{route="recordings",le="0.005"} 1' in text
    assert 'archive_api_request_seconds_bucket{route="recordings",le="+Inf"} 2' in text
    assert text.count("# TYPE archive_api_request_seconds histogram") == 1
    assert 'archive_x{camera="a\\"b\\\\c"} 1.5' in text
    assert text.endswith("\n")


def test_one_mapping() -> None:
    cases = [
        (ValidationError([Problem("start", "bad")]), 422, "invalid"), (NotFoundError("x"), 404, "not_found"),
        (ConflictError("x"), 409, "conflict"), (UserError("x"), 400, "bad_request"),
        (UnauthenticatedError("x"), 401, "unauthenticated"), (ForbiddenError("x"), 403, "forbidden"),
        (ChainError("x"), 409, "integrity"), (ObjectLockedError("x"), 409, "locked"),
        (StorageUnavailableError("x"), 503, "storage_unavailable"), (CatalogError("x"), 503, "catalog_unavailable"),
        (ToolError("secret detail"), 500, "internal"), (RuntimeError("secret detail"), 500, "internal"),
        (NotFoundException(), 404, "not_found"), (ValidationException("bad param"), 422, "invalid"),
    ]
    for exc, status, code in cases:
        got_status, body = problem(exc)
        assert (got_status, body["error"], body["status"]) == (status, code, status), exc
        assert body["message"]
        if status == 500:
            assert "secret detail" not in body["message"] and "reference" in body["message"]
    assert problem(ValidationError([Problem("start", "bad")]))[1]["problems"] == [{"where": "start", "message": "bad"}]
