"""Need to know beyond holds (issue 14 items 6 and 7), through the real API: a built package is
no longer downloadable by an agency the cameras were withdrawn from; the open ``/health`` and
``/metrics`` name no camera (aggregate counts by state), the authenticated ones do."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from litestar.testing import TestClient

from archive.api.status import ledger_metrics, recorder_check, recorder_metrics
from archive.export.model import Actor as ExportActor
from archive.export.views import ExportRequest
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope
from archive.model import us_from_utc
from archive.recorder.spool import SpoolUsage
from archive.recorder.status import CameraState, CameraStatus, IngestStatus, RecorderStatus
from tests.integration.api_support import CAMERAS, T0, ApiEnv, api_env_fixture  # noqa: F401

P = "/api/v1"


def _built(env: ApiEnv, camera: str) -> str:
    svc = env.exports.service
    inv = Principal("inv1", "x", Role.INVESTIGATOR, "police", None, "t")
    admin = Principal("admin1", "x", Role.ADMIN, "diskominfo", None, "t")
    t0 = us_from_utc(T0)
    eid = svc.request(inv, CameraScope(None), ExportRequest("LP/3/2025", "KUHAP 184", "theft", (camera,), t0,
                                                           t0 + 60_000_000), origin="test").id
    svc.decide(admin, CameraScope(None), eid, True, "ok", origin="test")
    rec = env.exports.builds.build(eid, ExportActor.of(admin, "test"))
    assert rec.package_path is not None and Path(rec.package_path).is_file()
    return eid


def test_download_refused_once_sharing_was_withdrawn(api_env: ApiEnv) -> None:
    eid = _built(api_env, "kota-1")
    with TestClient(api_env.app()) as c:
        assert c.get(f"{P}/exports/{eid}/package", headers=api_env.auth("investigator")).status_code == 200
        r = c.put(f"{P}/owners/kota/sharing", json={"agencies": ["satpol"]}, headers=api_env.auth("admin"))
        assert r.status_code == 200, r.text
        for role in ("investigator", "legal"):
            for method, url in (("GET", f"{P}/exports/{eid}/package"), ("GET", f"{P}/exports/{eid}/package/meta"),
                                ("HEAD", f"{P}/exports/{eid}/package")):
                r = c.request(method, url, headers=api_env.auth(role))
                assert r.status_code == 403, (role, method, url, r.status_code, r.text)
                if method == "GET":
                    assert "no longer shared" in r.json()["message"]
        # sharing given back: downloads again
        c.put(f"{P}/owners/kota/sharing", json={"agencies": ["police", "satpol"]}, headers=api_env.auth("admin"))
        assert c.get(f"{P}/exports/{eid}/package", headers=api_env.auth("legal")).status_code == 200
    lines = [json.loads(x) for x in api_env.exports.service.custody.lines(eid)]
    assert sum(1 for e in lines if e["event"] == "downloaded") == 2  # the refused attempts left no download event


def _status() -> RecorderStatus:
    now = dt.datetime.now(dt.UTC)

    def cam(camera_id: str, state: CameraState) -> CameraStatus:
        return CameraStatus(camera_id, f"rtsp://10.0.0.9/{camera_id}", state, now, 4242, "run-1", 2, 0, now, 2e6,
                            None, None, (), SpoolUsage(camera_id, 10, 1, 100, 80), IngestStatus(camera_id, ingested=5))

    states = [CameraState.RECORDING, CameraState.FAILED, CameraState.RECORDING, CameraState.RECONNECTING]
    return RecorderStatus(now, True, None, tuple(cam(c.id, s) for c, s in zip(CAMERAS, states, strict=True)))


def test_open_health_and_metrics_name_no_camera(api_env: ApiEnv) -> None:
    ledger = api_env.ledger
    deps = dataclasses.replace(
        api_env.deps, health_checks=(*api_env.deps.health_checks, recorder_check(_status)),
        metric_sources=(ledger_metrics(lambda: {s.camera_id: s.size for s in ledger.logs()}),
                        recorder_metrics(_status)))  # fmt: skip
    api_env.deps = deps
    camera_ids = [c.id for c in CAMERAS]
    with TestClient(api_env.app()) as c:
        health, metrics = c.get("/health"), c.get("/metrics")
        assert health.status_code == 200 and metrics.status_code == 200
        for body in (health.text, metrics.text):
            leaked = [cid for cid in camera_ids if cid in body]
            assert leaked == [], (leaked, body)
        assert 'archive_recorder_cameras{state="recording"} 2' in metrics.text
        assert 'archive_recorder_cameras{state="failed"} 1' in metrics.text
        recorder = next(x for x in health.json()["checks"] if x["name"] == "recorder")
        assert "4 cameras" in recorder["detail"] and "1 failed" in recorder["detail"]
        # behind authentication (admin, auditor): the per-camera details
        for role in ("admin", "auditor"):
            m = c.get(f"{P}/metrics", headers=api_env.auth(role))
            assert m.status_code == 200 and 'archive_log_entries{camera="kota-1"}' in m.text, m.text
            assert 'archive_recorder_recording{camera="mall-1"}' in m.text
            h = c.get(f"{P}/health", headers=api_env.auth(role))
            assert h.status_code == 200, h.text
            rec = next(x for x in h.json()["checks"] if x["name"] == "recorder")
            assert rec["cameras"]["cam-b"] == "failed" and rec["cameras"]["kota-1"] == "reconnecting"
        for role in ("investigator", "legal", "owner"):
            assert c.get(f"{P}/metrics", headers=api_env.auth(role)).status_code == 403
            assert c.get(f"{P}/health", headers=api_env.auth(role)).status_code == 403
        assert c.get(f"{P}/metrics").status_code == 401
