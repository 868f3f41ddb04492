"""The recorder's current state of one camera, read from the status snapshot for an export's
ongoing outage (EXPORT-SPEC.md 4.1)."""

from __future__ import annotations

import os
from pathlib import Path

from archive.recorder.health import HealthLimits
from archive.recorder.status import CameraState
from archive.recorder.status_file import camera_state, write_status_file
from tests.unit.recorder.test_health import T0, camera, status


def test_state_of_a_camera_from_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    assert camera_state(path, "cam-1") is None  # no service publishes a snapshot: not known
    down = camera("cam-1", state=CameraState.RECONNECTING, not_recording_since=T0,
                  last_exit="camera_unreachable: connection refused by 10.0.0.5:554")  # fmt: skip
    write_status_file(path, status(down), HealthLimits(), skipped={"cam-9": "another process holds its claim"})
    said = camera_state(path, "cam-1") or ""
    assert said.startswith("reconnecting since 2025-") and "not recording since 2025-" in said, said
    assert "last exit: camera_unreachable: connection refused by 10.0.0.5:554" in said and "s old)" in said
    assert camera_state(path, "cam-9") == ("not recorded by the running service: another process holds its claim "
                                           f"({said.rsplit('(', 1)[1]}")  # fmt: skip
    assert (camera_state(path, "cam-2") or "").startswith("not recorded by the running service (status snapshot")
    os.utime(path, (0, 0))
    assert "stale: the service may be down" in (camera_state(path, "cam-1") or "")
