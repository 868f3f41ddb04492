"""Issue 14 item 8: started with umask 022 (as ``ops/up.sh`` from a login shell), the service
leaves nothing under its data directory that group or other can read."""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.ports import free_port

ARCHIVE = Path(sys.executable).parent / "archive"


def _open_to_others(root: Path) -> list[str]:
    """Paths under ``root`` with group/other bits. SeaweedFS chmods its volume info files
    (``<volume>.vif``: version, replication, sizes; no evidence) to 0644 itself; they are only
    tolerated inside directories of mode 0700 all the way up, which nobody else can enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or not st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            continue
        sealed = all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in path.parents if p.is_relative_to(root))
        if not (path.suffix == ".vif" and "store" in path.relative_to(root).parts and sealed):
            found.append(f"{oct(stat.S_IMODE(st.st_mode))} {path.relative_to(root.parent)}")
    return found


@pytest.mark.slow
def test_up_under_umask_022_keeps_every_file_private(tmp_path):
    port = free_port()
    (tmp_path / "archive.toml").write_text(
        f'[paths]\ndata_dir = "var"\n[recorder]\nsegment_seconds = 2\n[api]\nport = {port}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    status = tmp_path / "var" / "run" / "status.json"
    with (tmp_path / "up.log").open("w") as log:
        proc = subprocess.Popen([str(ARCHIVE), "--config", str(tmp_path / "archive.toml"), "up"], stdout=log,
                                stderr=subprocess.STDOUT, cwd=tmp_path, env=env, preexec_fn=lambda: os.umask(0o022))
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (status.exists() and list((tmp_path / "var").rglob("*.ts"))):
                assert proc.poll() is None, (tmp_path / "up.log").read_text()
                time.sleep(1)
            assert status.exists(), (tmp_path / "up.log").read_text()
            time.sleep(6)  # a few segments uploaded, the status file rewritten
            running = _open_to_others(tmp_path / "var")
        finally:
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(90)
    assert rc == 0, (tmp_path / "up.log").read_text()
    assert (tmp_path / "var" / "catalog.sqlite3").exists()
    assert running == [], running
    assert _open_to_others(tmp_path / "var") == []
