"""`archive cameras disable|enable|remove` reach a running `archive up` within seconds (issue 13
item 7): a disabled camera's ffmpeg stops, enabling (also a camera disabled when `up` started)
records it again, a removed camera stops; the gap of the disabled time is logged with the reason
the recorder knows (an operator disabled it), not as a crash or an outage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.catalog.db import make_engine
from archive.errors import ArchiveError
from archive.ledger.tables import LogEntryRow
from archive.recorder.status_file import read_status_file
from tests.fixtures.cameras import SimCameraFactory
from tests.fixtures.ports import free_port

ARCHIVE = Path(sys.executable).parent / "archive"
FOLLOW_S = 5.0  # the promise: applied within about 5 s


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    return subprocess.run([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), *args], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120, check=False)  # fmt: skip


def wait_for(what: str, timeout: float, probe: Callable[[], bool]) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if probe():
            return time.monotonic() - began
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return "ffmpeg" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return False


@pytest.mark.slow
def test_disable_enable_remove_apply_to_the_running_service(tmp_path: Path, sim_cameras: SimCameraFactory) -> None:
    a, b, c = sim_cameras(3, "h264")
    port = free_port()
    (tmp_path / "archive.toml").write_text(
        f'[paths]\ndata_dir = "var"\n[recorder]\nsegment_seconds = 2\n[api]\nport = {port}\n', encoding="utf-8")
    (tmp_path / "cams.yaml").write_text(
        "owners:\n  - {id: e2e, name: E2E owner, kind: government, agencies: [police]}\ncameras:\n"
        + "".join(f"  - {{id: {n}, name: {n}, owner: e2e, stream_url: '{s.url}', latitude: -7.47, longitude: 112.43,"
                  f" location: bench, enabled: {'false' if n == 'cam-c' else 'true'}}}\n"
                  for n, s in (("cam-a", a), ("cam-b", b), ("cam-c", c))), encoding="utf-8")
    assert cli(tmp_path, "init").returncode == 0
    r = cli(tmp_path, "cameras", "import", "cams.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "up"], stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path, env=env)  # fmt: skip

    def cams() -> dict[str, dict[str, object]]:  # what `archive status` reads, without a process per look
        assert proc.poll() is None, (tmp_path / "up.log").read_text()
        try:
            data = read_status_file(tmp_path / "var" / "run" / "status.json")
        except ArchiveError:
            return {}
        return {x["camera_id"]: x for x in data["cameras"]}  # type: ignore[attr-defined]

    def ingested(cam: str) -> int:
        got = cams().get(cam)
        return int(got["ingest"]["ingested"]) if got else -1  # type: ignore[index]

    try:
        wait_for("cam-a and cam-b recording", 60, lambda: ingested("cam-a") >= 1 and ingested("cam-b") >= 1)
        assert "cam-c" not in cams()
        pid = cams()["cam-a"]["pid"]
        assert alive(pid)  # type: ignore[arg-type]
        assert cli(tmp_path, "cameras", "disable", "cam-a").returncode == 0
        took = wait_for("cam-a's ffmpeg to stop", 20, lambda: "cam-a" not in cams() and not alive(pid))  # type: ignore[arg-type]
        assert took <= FOLLOW_S + 3, took  # + the graceful ffmpeg stop and one status publication
        time.sleep(3)  # a gap of a few seconds while it is disabled

        assert cli(tmp_path, "cameras", "enable", "cam-c").returncode == 0  # disabled when up started
        assert cli(tmp_path, "cameras", "enable", "cam-a").returncode == 0
        wait_for("cam-a and cam-c recording", 40, lambda: ingested("cam-a") >= 1 and ingested("cam-c") >= 1)
        wait_for("cam-a's segments after the enable", 30, lambda: ingested("cam-a") >= 3)

        assert cli(tmp_path, "cameras", "remove", "cam-b").returncode == 0
        wait_for("cam-b to stop", FOLLOW_S + 3, lambda: "cam-b" not in cams())
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
        log.close()
    out = (tmp_path / "up.log").read_text()
    assert rc == 0 and "Traceback" not in out, out
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'catalog.sqlite3'}")
    t = LogEntryRow.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = [json.loads(r[0]) for r in conn.execute(select(t.c.data).where(t.c.kind == "gap"))]
    engine.dispose()
    details = [str(g) for g in rows]
    assert any("disabled by an operator" in d and "recorder_stopped" in d for d in details), details
    assert not any("without a clean stop" in d for d in details), details
