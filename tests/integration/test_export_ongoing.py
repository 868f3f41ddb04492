"""An export whose range runs into an outage still going on (issue 13 item 5): the camera's last
segment ends before the range does and no gap is logged after it (a gap is logged only when it
ends). The package holds the range up to the last logged instant and names the open part as an
ongoing outage, "not yet logged"; both verifiers accept it without counting it as covered."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from archive.export.model import ExportStatus
from archive.export.verifier.checks import verify_package
from archive.integrity import Clock
from archive.recorder.health import HealthLimits
from archive.recorder.status import CameraState
from archive.recorder.status_file import camera_state, write_status_file
from archive.storage.s3 import S3Store
from tests.integration import export_support as xs
from tests.unit.recorder.test_health import camera
from tests.unit.recorder.test_health import status as recorder_status


@pytest.fixture(scope="module")
def built(s3_store: S3Store, tmp_path_factory: pytest.TempPathFactory) -> tuple[xs.XEnv, Path]:
    tmp = tmp_path_factory.mktemp("ongoing")
    status = tmp / "status.json"  # what a running recorder publishes: cam-a down, reconnecting
    down = camera("cam-a", state=CameraState.RECONNECTING, not_recording_since=xs.T0 + timedelta(seconds=20),
                  last_exit="camera_unreachable: connection refused by 10.0.0.1:554")  # fmt: skip
    write_status_file(status, recorder_status(down), HealthLimits())
    env = xs.make_env(f"sqlite:///{tmp / 'catalog.sqlite3'}", s3_store, tmp, working_copy=False,
                      recorder_state=lambda cam: camera_state(status, cam))  # fmt: skip
    xs.record_cameras(env, xs.make_clips(tmp / "clips"))  # cam-a: last segment ends at T0 + 20 s, no gap after
    env.ledger.append_clock("cam-a", Clock(at=xs.T0 + timedelta(seconds=30), synced=True, source="chrony",
                                           offset_us=-100, max_error_us=2000, stratum=2))  # fmt: skip
    eid = xs.request(env, cameras=("cam-a",), start=xs.T0 + timedelta(seconds=1), end=xs.T0 + timedelta(seconds=40))
    rec = env.exports.builds.build(eid, env.actor("admin1"))  # dishub's policy approved the request
    assert rec.package_path is not None
    return env, Path(rec.package_path)


def test_the_range_is_exported_up_to_the_last_logged_instant(built: tuple[xs.XEnv, Path]) -> None:
    env, path = built
    (rec,) = [r for r in env.exports.service.records() if r.package_path == str(path)]
    assert rec.status is ExportStatus.BUILT
    with zipfile.ZipFile(path) as z:
        root = z.namelist()[0].split("/")[0]
        m = json.loads(z.read(f"{root}/manifest.json"))
        report = z.read(f"{root}/report.html").decode("utf-8")
    assert m["range"] == {"start": "2025-03-14T09:00:01.000000Z", "end": "2025-03-14T09:00:40.000000Z"}  # as requested
    (cam,) = m["cameras"]
    oo = cam["ongoing_outage"]
    assert oo["from"] == "2025-03-14T09:00:20.000000Z" and oo["logged"] is False
    assert oo["until"] == m["created_at"]
    # The entries run to the end of the signed tree (the clock entry after the outage began is
    # exported): they show that no segment or gap follows 'from'.
    assert cam["entries"]["end"] == cam["checkpoint"]["size"] == 10
    assert "not yet logged" in oo["note"]
    assert oo["state"].startswith("reconnecting since ") and "connection refused by 10.0.0.1:554" in oo["state"]
    assert "ongoing outage, not yet logged" in report and "16:00:20 WIB (09:00:20 UTC)" in report, report
    assert "Recorder state: reconnecting since" in report
    jsonschema = pytest.importorskip("jsonschema")
    here = Path(__file__).resolve().parents[2] / "archive" / "integrity"
    jsonschema.Draft202012Validator(json.loads((here / "export-manifest.schema.json").read_text())).validate(m)


def test_the_archive_verifier_says_valid_and_lists_the_ongoing_outage(built: tuple[xs.XEnv, Path]) -> None:
    env, path = built
    o = verify_package(path, trust=env.trust)
    assert o.valid, o.failures
    text = "\n".join(d for c in o.checks for d in (*c.details,)) + "\n".join(o.facts)
    assert "ongoing outage" in text and "not yet logged" in text and "not covered" in text


def test_the_bundled_verifier_alone_says_valid(built: tuple[xs.XEnv, Path], tmp_path: Path) -> None:
    env, path = built
    zipfile.ZipFile(path).extractall(tmp_path)
    (folder,) = list(tmp_path.iterdir())
    run = subprocess.run([sys.executable, "-I", "verify_package.py", *env.trust_args], cwd=folder,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "VERDICT: VALID" in run.stdout and "ongoing outage" in run.stdout, run.stdout


def test_a_forged_ongoing_outage_that_hides_logged_time_fails(built: tuple[xs.XEnv, Path], tmp_path: Path) -> None:
    """An ongoing outage must start where the exported log ends: one said to start earlier would
    pass logged recordings off as an outage."""
    env, path = built
    zipfile.ZipFile(path).extractall(tmp_path)
    (folder,) = list(tmp_path.iterdir())

    def earlier(m: dict[str, object]) -> None:
        cams = m["cameras"]
        assert isinstance(cams, list)
        cams[0]["ongoing_outage"]["from"] = "2025-03-14T09:00:10.000000Z"

    xs.reseal(folder, xs.export_signer(env), earlier)
    o = verify_package(folder, trust=env.trust)
    assert not o.valid and o.failed_step == 6, o.failures
    assert any("ongoing outage" in f for f in o.failures), o.failures
