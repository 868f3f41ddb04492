"""Issue 14 item 8 in process: files the service writes are 0600 whatever the umask."""

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from archive.fsmodes import secure_process
from archive.recorder.health import HealthLimits
from archive.recorder.status import RecorderStatus
from archive.recorder.status_file import write_status_file
from archive.storage.base import ObjectStore
from tests.integration.export_support import approve_and_build, make_clips, make_env, record_cameras, request


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_export_package_and_status_file_are_0600_under_umask_022(
    umask_022, catalog_url: str, s3_store: ObjectStore, tmp_path: Path
) -> None:
    env = make_env(catalog_url, s3_store, tmp_path)
    record_cameras(env, make_clips(tmp_path / "clips"))
    package = approve_and_build(env, request(env, cameras=("mall-1",)))
    assert package.is_file() and _mode(package) == 0o600, oct(_mode(package))
    status = tmp_path / "run" / "status.json"
    write_status_file(status, RecorderStatus(taken_at=dt.datetime.now(dt.UTC), store_available=True,
                                             store_error=None, cameras=()), HealthLimits())  # fmt: skip
    assert _mode(status) == 0o600, oct(_mode(status))


def test_secure_process_sets_umask_and_closes_what_an_earlier_start_left_open(umask_022, tmp_path: Path) -> None:
    data = tmp_path / "var"
    (data / "run").mkdir(parents=True)
    (data / "run" / "status.json").write_text("{}")
    (data / "catalog.sqlite3").write_text("")
    assert _mode(data / "catalog.sqlite3") == 0o644
    previous = secure_process(data, f"sqlite:///{data / 'new' / 'catalog.sqlite3'}")
    try:
        assert previous == 0o022
        for path in [data, *data.rglob("*")]:
            assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))
        assert _mode(data / "new" / "catalog.sqlite3") == 0o600
        (data / "later").write_text("x")
        assert _mode(data / "later") == 0o600  # the umask now in force
    finally:
        os.umask(0o022)
