"""The latest clock entry before an exported range travels with it (EXPORT-SPEC.md 7.2): the
builder exports the camera's entries from that clock entry on and names its seq in the camera
section's ``clock_before``, and both verifiers check that it is the first exported entry and a
clock entry, and say the clock's state at the start of the range. One package per module, real
segments and ledger."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from archive.export.verifier.checks import verify_package
from archive.integrity import Clock
from archive.storage.s3 import S3Store
from tests.integration import export_support as xs


@pytest.fixture(scope="module")
def built(s3_store: S3Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[xs.XEnv, Path]]:
    """cam-a: segments 0-4 s (seq 0, 1), a clock entry at 4.5 s (seq 2), segments 4-12 s (seq 3-6);
    exported: 5 s .. 9 s (the first segment overlapping it is seq 3)."""
    tmp = tmp_path_factory.mktemp("export-clock")
    env = xs.make_env(f"sqlite:///{tmp / 'catalog.sqlite3'}", s3_store, tmp, working_copy=False)
    clips = xs.make_clips(tmp / "clips", n=6)
    for i in range(2):
        xs.store_segment(env, "cam-a", clips[i], xs.T0 + i * xs.CLIP)
    env.ledger.append_clock("cam-a", Clock(at=xs.T0 + timedelta(seconds=4.5), synced=True, source="chrony",
                                           offset_us=-150, max_error_us=1800, stratum=2))  # fmt: skip
    for i in range(2, 6):
        xs.store_segment(env, "cam-a", clips[i], xs.T0 + i * xs.CLIP)
    eid = xs.request(env, cameras=("cam-a",), start=xs.T0 + timedelta(seconds=5), end=xs.T0 + timedelta(seconds=9))
    rec = env.exports.builds.build(eid, env.actor("admin1"))  # dishub's policy approved the request
    assert rec.package_path is not None
    yield env, Path(rec.package_path)
    env.engine.dispose()  # type: ignore[attr-defined]


def test_the_latest_clock_entry_before_the_range_is_exported(built: tuple[xs.XEnv, Path]) -> None:
    env, path = built
    with zipfile.ZipFile(path) as z:
        root = z.namelist()[0].split("/")[0]
        (cam,) = json.loads(z.read(f"{root}/manifest.json"))["cameras"]
        first = json.loads(z.read(f"{root}/{cam['entries']['path']}").splitlines()[0])
        report = z.read(f"{root}/report.html").decode("utf-8")
    assert cam["entries"]["start"] == 2 and cam["clock_before"] == 2, cam["entries"]
    assert first["kind"] == "clock" and first["seq"] == 2
    assert "At the start of the range the recorder&#x27;s clock was synchronized" in report, report
    o = verify_package(path, trust=env.trust)
    assert o.valid, o.failures
    assert any("clock at the start of the range" in f and "synchronized" in f for f in o.facts), o.facts


def test_both_verifiers_refuse_a_clock_before_that_is_not_the_first_entry(built: tuple[xs.XEnv, Path],
                                                                           tmp_path: Path) -> None:  # fmt: skip
    """An insider who names another entry as the clock entry before the range (or drops it) fails
    step 6 in the archive's verifier and in the package's own."""
    env, path = built
    zipfile.ZipFile(path).extractall(tmp_path)
    (folder,) = list(tmp_path.iterdir())

    def edit(m: dict[str, object]) -> None:
        (cam,) = m["cameras"]  # type: ignore[misc]
        cam["clock_before"] = 3

    xs.reseal(folder, xs.export_signer(env), edit)
    o = verify_package(folder, trust=env.trust)
    assert (o.status, o.failed_step) == ("INVALID", 6), o.verdict()
    assert any("clock_before" in f for f in o.failures), o.failures
    run = subprocess.run([sys.executable, "-I", "verify_package.py", *env.trust_args, "--quiet"], cwd=folder,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 1 and "INVALID at step 6" in run.stdout, run.stdout + run.stderr
