"""Searching cameras and recordings through the API: filters, place, time zones, coverage,
gaps, pruned media, pagination and the caller's scope."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta

from litestar.testing import TestClient

from archive.api.app import create_app
from archive.identity.model import Principal, Role
from archive.search.islands import islands
from archive.search.recordings import coverage
from archive.search.service import SearchService
from tests.integration.api_support import SEG, T0, ApiEnv, api_env_fixture, iso  # noqa: F401

P = "/api/v1"


def test_cameras_by_owner_tag_text_place_and_box(api_env: ApiEnv) -> None:
    h = api_env.auth("admin")
    with TestClient(api_env.app()) as c:
        def ids(**params: object) -> list[str]:
            r = c.get(f"{P}/cameras", params=params, headers=h)
            assert r.status_code == 200, r.text
            return [x["id"] for x in r.json()["items"]]

        assert ids() == ["cam-a", "cam-b", "kota-1", "mall-1"]
        assert ids(owner="dishub") == ["cam-a", "cam-b"]
        assert ids(tag="intersection") == ["cam-a", "cam-b"]
        assert ids(tag="north") == ["cam-a"]
        assert ids(q="ALUN") == ["kota-1"]
        assert ids(q="mojopahit") == ["cam-a"]
        near = c.get(f"{P}/cameras", params={"lat": -7.4722, "lon": 112.4338, "radius_m": 150}, headers=h).json()
        assert [x["id"] for x in near["items"]] == ["cam-a", "mall-1", "cam-b"]  # nearest first
        assert near["items"][0]["distance_m"] == 0.0 and all(x["distance_m"] <= 150 for x in near["items"])
        assert ids(bbox="-7.465,112.43,-7.455,112.45") == ["kota-1"]
        assert ids(limit=2, offset=1) == ["cam-b", "kota-1"]
        body = c.get(f"{P}/cameras/cam-a", headers=h).json()
        assert "stream_url" not in body and "password" not in str(body)
        for bad in ({"lat": 91, "lon": 0, "radius_m": 10}, {"lat": 1}, {"lat": 0, "lon": 0, "radius_m": 1e9},
                    {"bbox": "1,2,3"}, {"limit": 0}, {"limit": 5000}, {"lat": "nan", "lon": 0, "radius_m": 5}):
            r = c.get(f"{P}/cameras", params=bad, headers=h)
            assert r.status_code in (400, 422), (bad, r.status_code)
            assert r.json()["message"]


def test_scope_investigator_owner(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        inv = [x["id"] for x in c.get(f"{P}/cameras", headers=api_env.auth("investigator")).json()["items"]]
        own = [x["id"] for x in c.get(f"{P}/cameras", headers=api_env.auth("owner")).json()["items"]]
        assert inv == ["cam-a", "cam-b", "kota-1"] and own == ["mall-1"]
        for role, cam in (("investigator", "mall-1"), ("owner", "cam-a")):
            r = c.get(f"{P}/cameras/{cam}", headers=api_env.auth(role))
            assert r.status_code == 404 and r.json()["error"] == "not_found"
            r = c.get(f"{P}/recordings", params={"camera": cam, "start": iso(T0), "end": iso(T0 + SEG)},
                      headers=api_env.auth(role))
            assert r.status_code == 404
        # the owner shares with police: the investigator sees it at once; unsharing hides it again
        r = c.put(f"{P}/owners/mall/sharing", json={"agencies": ["police"]}, headers=api_env.auth("owner"))
        assert r.status_code == 200 and r.json()["agencies"] == ["police"]
        assert c.get(f"{P}/cameras/mall-1", headers=api_env.auth("investigator")).status_code == 200
        c.put(f"{P}/owners/mall/sharing", json={"agencies": []}, headers=api_env.auth("owner"))
        assert c.get(f"{P}/cameras/mall-1", headers=api_env.auth("investigator")).status_code == 404
        # an owner's staff cannot change another owner's sharing
        r = c.put(f"{P}/owners/dishub/sharing", json={"agencies": []}, headers=api_env.auth("owner"))
        assert r.status_code == 404


def test_recordings_coverage_gaps_pruned_and_pages(api_env: ApiEnv) -> None:
    h = api_env.auth("investigator")
    start, end = T0 - timedelta(minutes=1), T0 + timedelta(minutes=10)
    with TestClient(api_env.app()) as c:
        r = c.get(f"{P}/recordings", params={"camera": "cam-a", "start": iso(start), "end": iso(end)}, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["zone"] == "Asia/Jakarta" and body["range"]["start"] == "2025-03-14T08:59:00.000000Z"
        assert body["range"]["start_local"] == "2025-03-14T15:59:00.000000+07:00"
        cov = body["coverage"][0]
        assert [(i["start"], i["end"]) for i in cov["pruned"]] == [("2025-03-14T09:00:00.000000Z",
                                                                    "2025-03-14T09:00:30.000000Z")]
        assert [(i["start"], i["end"]) for i in cov["covered"]] == [
            ("2025-03-14T09:00:30.000000Z", "2025-03-14T09:05:00.000000Z"),
            ("2025-03-14T09:06:00.000000Z", "2025-03-14T09:08:00.000000Z")]
        assert [(g["reason"], g["detail"], g["seconds"]) for g in cov["gaps"]] == [
            ("camera_unreachable", "no route to host", 60.0)]
        assert [(i["start"], i["end"]) for i in cov["unaccounted"]] == [
            ("2025-03-14T08:59:00.000000Z", "2025-03-14T09:00:00.000000Z"),
            ("2025-03-14T09:08:00.000000Z", "2025-03-14T09:10:00.000000Z")]
        assert cov["segments"] == 42 and len(body["segments"]) == 42 and body["next_cursor"] is None
        assert [s["pruned"] for s in body["segments"][:4]] == [True, True, True, False]
        # the same range asked in WIB gives the same answer
        r2 = c.get(f"{P}/recordings", params={"camera": "cam-a", "start": "2025-03-14T15:59:00+07:00",
                                              "end": "2025-03-14T16:10:00+07:00"}, headers=h)
        assert r2.json()["coverage"] == body["coverage"]
        # pages of 10 walk every segment exactly once, coverage only on the first page
        seen, cursor, pages = [], None, 0
        while True:
            params = {"camera": ["cam-a", "cam-b", "kota-1"], "start": iso(start), "end": iso(end), "limit": 10}
            if cursor:
                params["cursor"] = cursor
            page = c.get(f"{P}/recordings", params=params, headers=h).json()
            assert (page["coverage"] is None) == (cursor is not None)
            if cursor is None:
                assert [x["camera"] for x in page["coverage"]] == ["cam-a", "cam-b", "kota-1"]
                assert page["coverage"][1]["segments"] == 0
            seen += [(s["camera"], s["seq"]) for s in page["segments"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 48 and pages == 5
        assert seen == sorted(seen, key=lambda x: (x[0], x[1]))


def test_recordings_input_errors(api_env: ApiEnv) -> None:
    h = api_env.auth("investigator")
    ok = {"camera": "cam-a", "start": iso(T0), "end": iso(T0 + SEG)}
    with TestClient(api_env.app()) as c:
        cases = [
            ({**ok, "start": "2025-03-14T09:00:00"}, 422, "start"),  # naive
            ({**ok, "end": ok["start"]}, 422, "end"),
            ({**ok, "end": iso(T0 + timedelta(days=40))}, 422, "end"),
            ({**ok, "cursor": "garbage"}, 422, "cursor"),
            ({**ok, "cursor": base64.urlsafe_b64encode(b"cam-a\x1f" + b"9" * 30 + b"\x1f1").decode()}, 422, "cursor"),
            ({"start": ok["start"], "end": ok["end"]}, 422, "camera"),  # no camera (was the framework's 400)
            ({**ok, "camera": ["cam-a"] * 1 + [f"c{i}" for i in range(70)]}, 422, "camera"),
            ({**ok, "limit": "many"}, 422, "limit"),
        ]
        for params, status, where in cases:
            r = c.get(f"{P}/recordings", params=params, headers=h)
            assert r.status_code == status, (params, r.status_code, r.text)
            body = r.json()
            assert body["status"] == status and body["message"]
            if where:
                assert body["problems"][0]["where"] == where


def test_sightings_which_cameras_saw_this_place(api_env: ApiEnv) -> None:
    with TestClient(api_env.app()) as c:
        params = {"lat": -7.4722, "lon": 112.4338, "radius_m": 200, "start": iso(T0 + timedelta(minutes=5)),
                  "end": iso(T0 + timedelta(minutes=7))}
        inv = c.get(f"{P}/sightings", params=params, headers=api_env.auth("investigator")).json()
        assert [s["camera"]["id"] for s in inv["cameras"]] == ["cam-a", "cam-b"]  # mall-1 is not shared
        cam_a = inv["cameras"][0]["coverage"]
        assert [g["reason"] for g in cam_a["gaps"]] == ["camera_unreachable"]
        assert cam_a["covered"][0]["start"] == "2025-03-14T09:06:00.000000Z"
        own = c.get(f"{P}/sightings", params=params, headers=api_env.auth("owner")).json()
        assert [s["camera"]["id"] for s in own["cameras"]] == ["mall-1"]
        mall = own["cameras"][0]["coverage"]  # it recorded only the first minute: nothing, and no gap entry
        assert mall["covered"] == [] and mall["gaps"] == [] and mall["unaccounted"][0]["seconds"] == 120.0


def test_sightings_in_a_box_the_same_search_as_the_circle(api_env: ApiEnv) -> None:
    """``bbox=south,west,north,east`` instead of a circle: the cameras inside it (by id), each with
    its coverage, the same answer per camera as the circle gives; a box and a circle together, neither,
    a malformed or too large box are 422 naming the field."""
    with TestClient(api_env.app()) as c:
        when = {"start": iso(T0 + timedelta(minutes=5)), "end": iso(T0 + timedelta(minutes=7))}
        inv = api_env.auth("investigator")
        circle = c.get(f"{P}/sightings", params={"lat": -7.4722, "lon": 112.4338, "radius_m": 200, **when},
                       headers=inv).json()  # fmt: skip
        boxed = c.get(f"{P}/sightings", params={"bbox": "-7.4740,112.4330,-7.4720,112.4350", **when}, headers=inv)
        assert boxed.status_code == 200, boxed.text
        body = boxed.json()
        assert body["bbox"] == [-7.474, 112.433, -7.472, 112.435] and body["radius_m"] is None
        assert [s["camera"]["id"] for s in body["cameras"]] == ["cam-a", "cam-b"]  # mall-1 is not shared
        assert body["cameras"][0]["coverage"] == circle["cameras"][0]["coverage"]
        tight = c.get(f"{P}/sightings", params={"bbox": "-7.4735,112.4340,-7.4725,112.4350", **when}, headers=inv)
        assert [s["camera"]["id"] for s in tight.json()["cameras"]] == ["cam-b"]  # cam-a is west of it
        own = c.get(f"{P}/sightings", params={"bbox": "-7.48,112.43,-7.47,112.44", **when},
                    headers=api_env.auth("owner")).json()  # fmt: skip
        assert [s["camera"]["id"] for s in own["cameras"]] == ["mall-1"]
        for bad, where in ((
                {"bbox": "-7.48,112.43,-7.47,112.44", "lat": -7.47, "lon": 112.43, "radius_m": 100}, "bbox"),
                ({}, "bbox"), ({"bbox": "1,2,3"}, "bbox"), ({"bbox": "-7.47,112.43,-7.48,112.44"}, "bbox"),
                ({"bbox": "-8.5,112.0,-6.5,113.0"}, "bbox")):  # fmt: skip
            r = c.get(f"{P}/sightings", params={**bad, **when}, headers=inv)
            assert r.status_code == 422 and r.json()["problems"][0]["where"] == where, (bad, r.text)


def test_islands_in_sql_equal_the_python_merge(api_env: ApiEnv) -> None:
    search = SearchService(api_env.engine)
    who = Principal("admin1", "A", Role.ADMIN, "diskominfo", None, "t")
    for lo_min, hi_min in ((-5, 20), (0, 1), (2, 6), (4, 7), (-300, 200)):  # the last: islands on PostgreSQL
        lo, hi = T0 + timedelta(minutes=lo_min), T0 + timedelta(minutes=hi_min)
        lo_us, hi_us = int(lo.timestamp() * 1e6), int(hi.timestamp() * 1e6)
        page = search.recordings(who, ["cam-a"], lo_us, hi_us, limit=1000)
        with api_env.engine.connect() as conn:
            sql = coverage(conn, "cam-a", lo_us, hi_us, 2**62)
            mem = coverage(conn, "cam-a", lo_us, hi_us, 2**62, segments=page.segments)
            assert sql == mem
            assert sum(i[3] for i in islands(conn, "cam-a", lo_us, hi_us)) == len(page.segments)


def test_cached_scope_follows_changes_made_through_the_api(api_env: ApiEnv) -> None:
    deps = replace(api_env.deps, search=SearchService(api_env.engine, cache_seconds=60))
    with TestClient(create_app(deps)) as c:
        inv, own = api_env.auth("investigator"), api_env.auth("owner")
        assert c.get(f"{P}/cameras/mall-1", headers=inv).status_code == 404
        assert c.put(f"{P}/owners/mall/sharing", json={"agencies": ["police"]}, headers=own).status_code == 200
        assert c.get(f"{P}/cameras/mall-1", headers=inv).status_code == 200
        assert c.put(f"{P}/owners/mall/sharing", json={"agencies": []}, headers=own).status_code == 200
        assert c.get(f"{P}/cameras/mall-1", headers=inv).status_code == 404
        r = c.get(f"{P}/recordings", params={"camera": "cam-a", "start": iso(T0), "end": iso(T0 + SEG)}, headers=inv)
        assert r.status_code == 200
