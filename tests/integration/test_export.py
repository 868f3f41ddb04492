"""Evidence exports end to end: request (legal hold at once), owner approval by policy file,
build, download, verification by ``archive verify`` (zip and folder), custody log (catalog,
package and audit trail), refusal, and the access rules."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from archive.cli import main
from archive.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from archive.export.model import ExportStatus
from archive.export.verifier.checks import verify_package
from archive.identity.policy import CameraScope
from archive.storage.s3 import S3Store
from tests.integration import export_support as xs

ALL = CameraScope(None)


@pytest.fixture
def env(catalog_url: str, s3_store: S3Store, tmp_path: Path) -> xs.XEnv:
    e = xs.make_env(catalog_url, s3_store, tmp_path)
    xs.record_cameras(e, xs.make_clips(tmp_path.parent / "clips"))
    return e


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_request_approve_build_download_verify(env: xs.XEnv, tmp_path: Path) -> None:
    svc = env.exports.service
    eid = xs.request(env)
    rec = svc.record(eid)
    # The request placed a legal hold on the cameras x range at once; dishub's policy approved its group.
    hold = env.holds.get(rec.hold_id or -1)
    assert hold.active(10**18 // 10**3) and set(hold.cameras) == {"cam-a", "mall-1"}
    assert (hold.start_us, hold.end_us) == (rec.start_us, rec.end_us)
    assert rec.status is ExportStatus.REQUESTED
    assert {a.owner_id: a.decision for a in rec.approvals} == {"dishub": "approved", "mall": None}
    # The mall's file says its own staff approve: an admin may not, the investigator may not.
    with pytest.raises(ForbiddenError, match="staff of owner mall"):
        svc.decide(env.who("admin1"), ALL, eid, True, "")
    with pytest.raises(ForbiddenError):
        svc.decide(env.who("inv1"), ALL, eid, True, "")
    with pytest.raises(ConflictError):
        env.exports.builds.build(eid, env.actor("admin1"))  # not approved yet
    path = xs.approve_and_build(env, eid)
    rec = svc.record(eid)
    assert rec.status is ExportStatus.BUILT and rec.progress == 1.0 and path.is_file()
    assert path.name.startswith("LP_123_III_2025_Reskrim_")
    # Download: the hash is known first, the file matches it, the download is in the custody log.
    f = svc.package_file(env.who("inv1"), eid)
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256 == rec.package_sha256
    svc.package(env.who("inv1"), ALL, eid, origin="10.0.0.7")
    with pytest.raises(ForbiddenError):
        svc.package_file(env.who("own1"), eid)  # owners approve, they do not download
    # archive verify FILE.zip (the shortcut) and archive verify package DIR, pinned to the archive's key.
    code, out = _cli("verify", str(path), "--trust", env.fingerprint, "--quiet")
    assert code == 0, out
    assert "VERDICT: VALID" in out and "camera_unreachable (RTSP timeout)" in out and "recorder_stopped" in out
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(path).extractall(unpacked)
    (folder,) = list(unpacked.iterdir())
    code, out = _cli("verify", "package", str(folder), "--trust", env.fingerprint, "--json", "--quiet")
    assert code == 0 and json.loads(out)["valid"] is True
    # The package's custody log is sealed at 'built'; the catalog's continues it (packaged, downloaded).
    names = [json.loads(x)["event"] for x in svc.custody.lines(eid)]
    assert names == ["requested", "approved", "approved", "build_started", "built", "packaged", "downloaded"]
    cont = tmp_path / "custody.jsonl"
    cont.write_bytes(b"".join(x + b"\n" for x in svc.custody.lines(eid)))
    outcome = verify_package(path, trust=[env.fingerprint], custody=cont)
    assert outcome.valid, outcome.failures
    assert any("is the package recorded by the archive" in d for c in outcome.checks for d in c.details)
    # Every custody event is in the audit trail too.
    from archive.audit.query import AuditFilter

    actions = [e.record.action for e in env.audit.events(AuditFilter(limit=100))]
    assert {"export.requested", "export.approved", "export.built", "export.packaged", "export.downloaded"} <= set(
        actions
    )


def test_report_and_manifest_say_what_a_judge_needs(env: xs.XEnv) -> None:
    eid = xs.request(env)
    path = xs.approve_and_build(env, eid)
    z = zipfile.ZipFile(path)
    root = z.namelist()[0].split("/")[0]
    report = z.read(f"{root}/report.html").decode()
    for text in ("LP/123/III/2025/Reskrim", "KUHAP art. 43", "Sunrise Mall", "Jl. Mojopahit", "camera_unreachable",
                 "RTSP timeout", "WIB (UTC+07:00, Asia/Jakarta)", "Penyidik Satu", "Mall Staff", "DERIVED",
                 "verify_package.py --trust sha256:"):
        assert text in report, text
    m = json.loads(z.read(f"{root}/manifest.json"))
    assert m["case"]["legal_basis"].startswith("KUHAP") and m["requested_by"]["user"] == "inv1"
    assert m["operator"]["user"] == "admin1" and m["time_zone"] == "Asia/Jakarta"
    cams = {c["id"]: c for c in m["cameras"]}
    assert cams["mall-1"]["owner"]["name"] == "Sunrise Mall" and cams["cam-a"]["location"] == "Jl. Mojopahit"
    assert cams["cam-a"]["working_copy"]["derived"] is True
    assert all(len(f["sha256"]) == 64 for f in m["files"])
    # Segments are byte-identical to storage.
    seg = next(p for p in z.namelist() if "/cameras/cam-a/segments/" in p)
    key = next(k for k in (i.key for i in env.store.list_versions(env.media, env.ledger.settings.media_prefix("cam-a")))
               if k.endswith(seg.rsplit("_", 1)[1]))
    assert z.read(seg) == env.store.get_bytes(env.media, key)


def test_refusal_validation_and_visibility(env: xs.XEnv) -> None:
    svc = env.exports.service
    eid = xs.request(env, cameras=("mall-1",))
    with pytest.raises(ValidationError):
        svc.decide(env.who("own1"), ALL, eid, False, "")  # a refusal needs a reason
    view = svc.decide(env.who("own1"), ALL, eid, False, "no warrant for the lobby", origin="10.0.1.9")
    assert view.status == "refused"
    with pytest.raises(ConflictError):
        svc.decide(env.who("own1"), ALL, eid, True, "")
    with pytest.raises(ConflictError):
        env.exports.builds.build(eid, env.actor("admin1"))
    # Only dishub cameras: approved by policy right away.
    eid2 = xs.request(env, user="legal1", cameras=("cam-a",))
    assert svc.record(eid2).status is ExportStatus.APPROVED
    with pytest.raises(ValidationError):
        xs.request(env, cameras=("cam-a",), start=xs.T0, end=xs.T0)
    with pytest.raises(NotFoundError):
        xs.request(env, cameras=("nope",))
    with pytest.raises(ForbiddenError):
        xs.request(env, user="own1")
    # Owner staff see exports with their cameras; the investigator's agency sees its own.
    own = {v.id for v in svc.list(env.who("own1"), ALL)}
    assert eid in own and eid2 not in own
    assert {eid, eid2} <= {v.id for v in svc.list(env.who("inv1"), ALL)}


def test_build_refuses_a_range_the_log_does_not_cover(env: xs.XEnv) -> None:
    from datetime import timedelta

    eid = xs.request(env, cameras=("cam-a",), end=xs.T0 + timedelta(seconds=40))
    with pytest.raises(ConflictError, match="not cover"):
        env.exports.builds.build(eid, env.actor("admin1"))
    rec = env.exports.service.record(eid)
    assert rec.status is ExportStatus.FAILED and "not covered" in (rec.error or "")
    assert not list((env.tmp / "exports" / eid).glob("*.zip*"))
    assert json.loads(env.exports.service.custody.lines(eid)[-1])["event"] == "build_failed"


def test_background_runner_builds_approved_exports(env: xs.XEnv) -> None:
    import time

    runner = env.exports.runner
    env.exports.service.on_approved = runner.submit
    runner.start()
    try:
        eid = xs.request(env, cameras=("cam-a",))  # approved by policy: queued at once
        deadline = time.monotonic() + 60
        while env.exports.service.record(eid).status is not ExportStatus.BUILT and time.monotonic() < deadline:
            time.sleep(0.1)
        assert env.exports.service.record(eid).status is ExportStatus.BUILT, runner.last_error
    finally:
        runner.stop()
