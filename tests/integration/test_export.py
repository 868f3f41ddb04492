"""Evidence exports end to end: request (legal hold at once), owner approval by policy file,
build, download, verification by ``archive verify`` (zip and folder), custody log (catalog,
package and audit trail), refusal, and the access rules."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
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
    code, out = _cli("verify", str(path), *env.trust_args, "--quiet")
    assert code == 0, out
    assert "VERDICT: VALID" in out and "camera_unreachable (RTSP timeout)" in out and "recorder_stopped" in out
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(path).extractall(unpacked)
    (folder,) = list(unpacked.iterdir())
    code, out = _cli("verify", "package", str(folder), *env.trust_args, "--json", "--quiet")
    assert code == 0 and json.loads(out)["valid"] is True
    # The package's custody log is sealed at 'built'; the catalog's continues it (packaged, downloaded).
    names = [json.loads(x)["event"] for x in svc.custody.lines(eid)]
    assert names == ["requested", "approved", "approved", "build_started", "built", "packaged", "downloaded"]
    cont = tmp_path / "custody.jsonl"
    cont.write_bytes(b"".join(x + b"\n" for x in svc.custody.lines(eid)))
    outcome = verify_package(path, trust=env.trust, custody=cont)
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
                 "verify_package.py --trust export=sha256:"):
        assert text in report, text
    m = json.loads(z.read(f"{root}/manifest.json"))
    # The same report as PDF (no dependency): a real renderer (Ghostscript) reads its text back.
    pdf = z.read(f"{root}/report.pdf")
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF") and m["report_pdf"] == "report.pdf"
    assert "report.pdf" in {f["path"] for f in m["files"]}
    gs = shutil.which("gs")
    if gs is not None:
        (env.tmp / "report.pdf").write_bytes(pdf)
        text = subprocess.run([gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=txtwrite", "-o", "-",
                               str(env.tmp / "report.pdf")], capture_output=True, text=True, check=True).stdout
        for want in ("Evidence export: case LP/123/III/2025/Reskrim", "KUHAP art. 43", "Sunrise Mall",
                     "camera_unreachable (RTSP timeout)", "recorder_stopped", "WIB (UTC+07:00, Asia/Jakarta)",
                     "Penyidik Satu", "DERIVED working copy", "verify_package.py --trust export=FINGERPRINT",
                     f"FINGERPRINT = {env.fingerprint}", "page 1 of"):
            assert want in text, want
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
    """A hole between logged entries (20-30 s, no gap entry) is not covered: the build fails. (A
    range that only runs past the camera's last entry is an ongoing outage instead, exported up
    to that entry: test_export_ongoing.py.)"""
    from datetime import timedelta

    xs.store_segment(env, "cam-a", xs.make_clips(env.tmp.parent / "clips")[0], xs.T0 + timedelta(seconds=30))
    eid = xs.request(env, cameras=("cam-a",), end=xs.T0 + timedelta(seconds=32))
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


def _held(env: xs.XEnv, camera: str) -> list[bool]:
    """S3 legal hold of each stored version of the camera, in time order."""
    prefix = env.ledger.settings.media_prefix(camera)
    infos = sorted(env.store.list_versions(env.media, prefix), key=lambda i: i.key)
    return [env.store.stat(env.media, i.key, i.version_id).legal_hold for i in infos]


def test_refusal_releases_only_its_own_legal_hold(env: xs.XEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from archive.errors import CatalogError
    from archive.identity.model import Role
    from archive.retention.audit import HoldActor, HoldLog

    svc = env.exports.service
    # Another case's hold on the first 6 s of mall-1, and two exports of the same camera and range.
    other, _ = env.holds.create(HoldActor("inv1", Role.INVESTIGATOR), case_id="LP/other", reason="another case",
                                cameras=["mall-1"], start_us=xs.us_from_utc(xs.T0),
                                end_us=xs.us_from_utc(xs.T0 + timedelta(seconds=6)))  # fmt: skip
    first, second = xs.request(env, cameras=("mall-1",)), xs.request(env, cameras=("mall-1",))
    h1, h2 = svc.record(first).hold_id or -1, svc.record(second).hold_id or -1
    assert _held(env, "mall-1") == [True] * 8
    # Refusing the first releases its hold only: the second export's hold keeps every version held.
    svc.decide(env.who("own1"), ALL, first, False, "no warrant for the lobby", origin="10.0.1.9")
    hold = env.holds.get(h1)
    assert hold.released_us is not None and hold.released_by == "export-service on behalf of own1 (owner)"
    assert hold.release_reason == f"export {first} refused by own1: no warrant for the lobby"
    assert env.holds.get(h2).active(env.holds.get(h2).created_us) and env.holds.get(other.id).released_us is None
    assert _held(env, "mall-1") == [True] * 8
    # Refusing the second: the other case's hold still covers the first 6 s (3 segments), the rest is lifted.
    svc.decide(env.who("own1"), ALL, second, False, "still no warrant", origin="10.0.1.9")
    assert env.holds.get(h2).released_us is not None and env.holds.get(other.id).released_us is None
    assert _held(env, "mall-1") == [True] * 3 + [False] * 5
    # Audited: the hold audit log (hold.release) and the custody log (mirrored into the audit trail).
    released = [e for e in HoldLog(env.engine, lambda: 0).events("hold.release")]  # type: ignore[arg-type]
    assert {e.subject for e in released} == {f"hold {h1} case LP/123/III/2025/Reskrim",
                                             f"hold {h2} case LP/123/III/2025/Reskrim"}  # fmt: skip
    event = json.loads(svc.custody.lines(first)[-1])
    assert event["event"] == "hold_released" and event["actor"] == "own1" and event["from"] == "10.0.1.9"
    assert event["detail"]["legal_hold"] == h1 and event["detail"]["store_holds_lifted"] == 0
    assert json.loads(svc.custody.lines(second)[-1])["detail"]["store_holds_lifted"] == 5
    from archive.audit.query import AuditFilter

    assert "export.hold_released" in {e.record.action for e in env.audit.events(AuditFilter(limit=100))}
    # A release that fails at refusal time: the refusal stands, the hold is released on retry.
    third = xs.request(env, cameras=("mall-1",))
    h3 = svc.record(third).hold_id or -1

    def broken(*_: object, **__: object) -> None:
        raise CatalogError("database is locked")

    with monkeypatch.context() as m:
        m.setattr(env.holds, "release", broken)
        assert svc.decide(env.who("own1"), ALL, third, False, "no", origin="10.0.1.9").status == "refused"
    assert env.holds.get(h3).released_us is None
    assert svc.release_refused_holds() == [third]
    assert env.holds.get(h3).released_us is not None and svc.release_refused_holds() == []
    assert json.loads(svc.custody.lines(third)[-1])["actor"] == "system"
    # Only a refused export's own hold is ever released.
    with pytest.raises(ConflictError, match="only a refused export"):
        svc.release_hold(xs.request(env, cameras=("mall-1",)), env.actor("admin1"), "why not")
    assert env.holds.get(other.id).released_us is None


def test_build_never_packages_a_segment_unlike_its_log_entry(env: xs.XEnv) -> None:
    """The store holds other bytes than logged (SHA-256), or more bytes: the build fails, the
    export is ``failed`` with the reason, and no package (nor partial file) is left."""
    import hashlib
    from datetime import timedelta

    from archive.integrity import IntegrityError

    clip = xs.make_clips(env.tmp.parent / "clips")[0]
    t1, t2 = xs.T0 + timedelta(seconds=20), xs.T0 + timedelta(seconds=22)
    xs.store_segment(env, "cam-a", clip, t1, logged_sha256=hashlib.sha256(clip + b"!").hexdigest())
    xs.store_segment(env, "cam-a", clip, t2, logged_size=len(clip) - 1)
    for start, why in ((t1, "does not hold what was logged"), (t2, "larger than the")):
        eid = xs.request(env, cameras=("cam-a",), start=start, end=start + xs.CLIP)  # approved by dishub's policy
        with pytest.raises(IntegrityError, match=why):
            env.exports.builds.build(eid, env.actor("admin1"))
        rec = env.exports.service.record(eid)
        assert rec.status is ExportStatus.FAILED and why in (rec.error or "")
        assert not [p for p in (env.tmp / "exports" / eid).rglob("*") if p.is_file()]
