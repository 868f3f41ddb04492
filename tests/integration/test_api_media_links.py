"""Playback through the API (issue 13 item 7): playlists and segment URLs are signed, short-lived
``/play/segment`` links of the API itself, never the store's (loopback) address, so a browser on
another machine plays through the API's address. A link is minted only for a user who may see
the camera; an expired or forged link is 403; a range ending in the future is a live EVENT playlist."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from archive.api.app import create_app
from archive.api.deps import ApiSettings
from archive.api.media_links import MediaLinks
from archive.errors import ConfigError
from archive.ledger.repo import SEGMENT
from tests.integration.api_support import T0, ApiEnv, api_env_fixture, iso, record_segments  # noqa: F401

P = "/api/v1"
RANGE = {"start": iso(T0 + timedelta(minutes=4, seconds=30)), "end": iso(T0 + timedelta(minutes=6, seconds=30))}


def logged_sha256(env: ApiEnv, camera: str) -> dict[int, str]:
    with env.engine.connect() as conn:
        rows = conn.execute(select(SEGMENT.c.seq, SEGMENT.c.sha256).where(SEGMENT.c.camera_id == camera))
        return {int(r[0]): str(r[1]) for r in rows}


def test_playlist_links_go_through_the_api_and_serve_the_logged_bytes(api_env: ApiEnv) -> None:
    logged = logged_sha256(api_env, "cam-a")
    with TestClient(api_env.app()) as c:
        r = c.get(f"{P}/cameras/cam-a/playlist.m3u8", params=RANGE, headers=api_env.auth("legal"))
        assert r.status_code == 200, r.text
        lines = r.text.splitlines()
        uris = [x for x in lines if x and not x.startswith("#")]
        assert len(uris) == 6 and all(u.startswith("/play/segment?") for u in uris), uris
        assert "X-Amz" not in r.text and "127.0.0.1" not in r.text and api_env.media not in r.text
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines and lines[-1] == "#EXT-X-ENDLIST"
        seqs = [int(x.rsplit("seq ", 1)[1]) for x in lines if x.startswith("#EXTINF:")]
        for seq, uri in zip(seqs, uris, strict=True):
            got = c.get(uri)  # no bearer token: the signed link is the authority
            assert got.status_code == 200 and got.headers["content-type"].startswith("video/mp2t")
            assert hashlib.sha256(got.content).hexdigest() == logged[seq]


def test_segment_url_is_an_api_link(api_env: ApiEnv) -> None:
    seq = api_env.seqs["cam-a"][5]
    with TestClient(api_env.app()) as c:
        body = c.get(f"{P}/cameras/cam-a/segments/{seq}/url", params={"expires": 30},
                     headers=api_env.auth("investigator")).json()
        url = urlsplit(body["url"])
        assert url.path == "/play/segment" and "X-Amz" not in body["url"]
        got = c.get(f"{url.path}?{url.query}")
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == body["sha256"]


def test_expired_and_forged_links_are_403(api_env: ApiEnv) -> None:
    seq = api_env.seqs["cam-a"][5]
    ref = api_env.deps.search.stored_segment("cam-a", seq)
    key = api_env.deps.media_key
    old = MediaLinks(key, now=lambda: datetime.now(UTC) - timedelta(minutes=10))
    with TestClient(api_env.app()) as c:
        assert c.get(old.segment(ref, timedelta(seconds=60))).status_code == 403  # expired 9 minutes ago
        good = MediaLinks(key).segment(ref, timedelta(seconds=60))
        assert c.get(good).status_code == 200
        q = {k: v[0] for k, v in parse_qs(urlsplit(good).query).items()}
        other = api_env.seqs["cam-a"][6]
        for forged in ({**q, "seq": str(other)}, {**q, "camera": "kota-1"}, {**q, "exp": str(int(q["exp"]) + 3600)},
                       {**q, "sig": q["sig"][:-2] + ("00" if q["sig"][-2:] != "00" else "11")}):
            r = c.get(f"/play/segment?{urlencode(forged)}")
            assert r.status_code == 403 and "link" in r.json()["message"], r.text
        foreign = MediaLinks(b"k" * 32).segment(ref, timedelta(seconds=60))  # another key
        assert c.get(foreign).status_code == 403
        assert c.get("/play/segment?camera=cam-a").status_code in (400, 403)


def test_no_link_for_a_role_without_playback_or_scope(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        assert c.get(f"{P}/cameras/cam-a/playlist.m3u8", params=RANGE, headers=api_env.auth("admin")).status_code == 403
        assert c.get(f"{P}/cameras/cam-a/playlist.m3u8", params=RANGE, headers=api_env.auth("owner")).status_code == 404
        assert c.get(f"{P}/cameras/cam-a/playlist.m3u8", params=RANGE).status_code == 401


def test_a_range_ending_in_the_future_is_a_live_event_playlist(api_env: ApiEnv) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    record_segments(api_env, "cam-b", 2, start=now - timedelta(seconds=25))
    with TestClient(api_env.app()) as c:
        r = c.get(f"{P}/cameras/cam-b/playlist.m3u8", headers=api_env.auth("investigator"),
                  params={"start": iso(now - timedelta(minutes=1)), "end": iso(now + timedelta(minutes=10))})
        assert r.status_code == 200, r.text
        lines = r.text.splitlines()
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in lines and "#EXT-X-ENDLIST" not in lines
        assert len([x for x in lines if x.startswith("/play/segment?")]) == 2


def test_a_forged_host_header_steers_no_link(api_env: ApiEnv) -> None:
    """Host-header injection: a request naming ``Host: evil.example`` must not get a link to it
    (a victim following it would send the signed link, and trust the answer, to the attacker).
    Without ``[api] public_url`` every link is relative to the API the client already talks to."""
    seq = api_env.seqs["cam-a"][5]
    evil = {**api_env.auth("investigator"), "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    with TestClient(api_env.app()) as c:
        r = c.get(f"{P}/cameras/cam-a/segments/{seq}/url", params={"expires": 30}, headers=evil)
        assert r.status_code == 200, r.text
        assert "evil.example" not in r.text, r.text
        assert r.json()["url"].startswith("/play/segment?"), r.json()["url"]
        r = c.get(f"{P}/cameras/cam-a/playlist.m3u8", params=RANGE, headers=evil)
        assert r.status_code == 200 and "evil.example" not in r.text, r.text


def test_a_configured_public_url_is_the_links_base_whatever_the_host(api_env: ApiEnv) -> None:
    settings = ApiSettings(failed_auth_limit=0, public_url="https://archive.mojokerto.example/")
    app = create_app(replace(api_env.deps, settings=settings))
    seq = api_env.seqs["cam-a"][5]
    with TestClient(app) as c:
        for host in ("evil.example", "archive.mojokerto.example"):
            r = c.get(f"{P}/cameras/cam-a/segments/{seq}/url", params={"expires": 30},
                      headers={**api_env.auth("investigator"), "Host": host})
            url = r.json()["url"]
            assert url.startswith("https://archive.mojokerto.example/play/segment?"), url
        r = c.get(f"{P}/cameras/cam-a/playlist.m3u8", params=RANGE, headers={**api_env.auth("legal"),
                                                                             "Host": "evil.example"})
        uris = [x for x in r.text.splitlines() if x and not x.startswith("#")]
        assert uris and all(u.startswith("https://archive.mojokerto.example/play/segment?") for u in uris), uris


def test_a_public_url_must_be_an_absolute_http_url() -> None:
    for bad in ("archive.example", "ftp://archive.example", "https://", "https://a.example/x?y=1",
                "https://a.example/#f", "https://user:pw@a.example"):
        with pytest.raises(ConfigError, match=r"api\.public_url"):
            ApiSettings(public_url=bad)
    assert ApiSettings(public_url="http://10.0.0.5:8080/archive/").public_url == "http://10.0.0.5:8080/archive"
