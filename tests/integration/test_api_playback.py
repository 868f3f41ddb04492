"""Playback: a short-lived media link for a segment and an HLS playlist for a range, both
serving the exact stored bytes through the API, each use audited; pruned media and scope refused."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from litestar.testing import TestClient

from archive.audit.query import AuditFilter
from tests.integration.api_support import T0, ApiEnv, api_env_fixture, iso  # noqa: F401

P = "/api/v1"


def test_segment_url_is_short_lived_exact_and_audited(api_env: ApiEnv) -> None:
    seq = api_env.seqs["cam-a"][5]
    with TestClient(api_env.app()) as c:
        r = c.get(f"{P}/cameras/cam-a/segments/{seq}/url", params={"expires": 30}, headers=api_env.auth("investigator"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["start"] == "2025-03-14T09:00:50.000000Z" and body["start_local"].endswith("+07:00")
        url = urlsplit(body["url"])
        q = parse_qs(url.query)
        assert 28 <= int(q["exp"][0]) - time.time() <= 31 and q["version"][0]
        data = c.get(f"{url.path}?{url.query}").content
        assert hashlib.sha256(data).hexdigest() == body["sha256"] and len(data) == body["size"]
        # longer than the configured maximum, or pruned media, or another owner's camera: refused
        assert c.get(f"{P}/cameras/cam-a/segments/{seq}/url", params={"expires": 3600},
                     headers=api_env.auth("investigator")).status_code in (400, 422)
        pruned = api_env.seqs["cam-a"][0]
        r = c.get(f"{P}/cameras/cam-a/segments/{pruned}/url", headers=api_env.auth("investigator"))
        assert r.status_code == 409 and "pruned" in r.json()["message"]
        assert c.get(f"{P}/cameras/cam-a/segments/{seq}/url", headers=api_env.auth("owner")).status_code == 404
        assert c.get(f"{P}/cameras/cam-a/segments/999999/url", headers=api_env.auth("investigator")).status_code == 404
        assert c.get(f"{P}/cameras/cam-a/segments/{seq}/url", headers=api_env.auth("admin")).status_code == 403
    events = api_env.audit.events(AuditFilter(action="playback.segment", newest_first=False))
    assert [e.record.status for e in events] == [200, 422, 409, 404, 404, 403]
    ok = events[0].record
    assert (ok.actor, ok.agency, ok.role, ok.result.value) == ("inv1", "police", "investigator", "ok")
    assert ok.detail["seq"] == seq and ok.detail["expires_s"] == 30 and ok.detail["sha256"] == body["sha256"]
    assert ok.target == {"path.camera_id": "cam-a", "path.seq": str(seq), "query.expires": "30"}
    assert abs(ok.at_us - time.time_ns() // 1000) < 120_000_000 and ok.ip


def test_playlist_lists_linked_segments_with_utc_program_date_time(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        r = c.get(f"{P}/cameras/cam-a/playlist.m3u8", params={"start": "2025-03-14T16:04:30+07:00",
                                                             "end": iso(T0 + timedelta(minutes=6, seconds=30))},
                  headers=api_env.auth("legal"))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        lines = r.text.splitlines()
        pdt = [x.split(":", 1)[1] for x in lines if x.startswith("#EXT-X-PROGRAM-DATE-TIME:")]
        assert pdt[0] == "2025-03-14T09:04:30.000Z" and pdt[-1] == "2025-03-14T09:06:20.000Z"
        assert all(p.endswith("Z") for p in pdt)
        assert lines.count("#EXT-X-DISCONTINUITY") == 1  # the camera_unreachable gap 09:05-09:06
        urls = [x for x in lines if x.startswith("/play/segment?")]
        assert len(urls) == len(pdt) == 6
        for url in urls[:2]:
            got = c.get(url)
            assert got.status_code == 200 and len(got.content) == 2000
        too_long = c.get(f"{P}/cameras/cam-a/playlist.m3u8",
                         params={"start": iso(T0), "end": iso(T0 + timedelta(hours=5))}, headers=api_env.auth("legal"))
        assert too_long.status_code == 422
    e = api_env.audit.events(AuditFilter(action="playback.playlist", limit=2, newest_first=False))[0].record
    assert e.detail["segments"] == 6 and e.detail["pruned"] == 0 and e.role == "legal"
