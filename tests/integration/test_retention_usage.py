"""Storage pressure is measured on the archive's own bytes, never on a shared filesystem (issue 13
item 8): other people's files on the store's disk must not make the archive delete evidence early.

The data directory sits on a small tmpfs the test mounts (the suite runs as root, like ops/test.sh);
a foreign file fills that filesystem past ``delete_at``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from archive.bootstrap.assemble import assemble_retention
from archive.config import load_config
from archive.errors import ConfigError
from archive.retention.settings import RetentionSettings
from archive.storage.base import LockMode, Retention
from tests.integration.retention_support import DAY, SIZE, REnv, make_renv, starts

FS_BYTES = 8 * 1024 * 1024


@pytest.fixture
def small_fs(tmp_path: Path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES}", "tmpfs", str(mnt)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (not root?): {done.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def renv(s3_store, tmp_path: Path):
    env = make_renv(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path)
    yield env
    env.engine.dispose()


def configured(env: REnv, data_dir: Path, tmp_path: Path, extra: str = "") -> RetentionSettings:
    path = tmp_path / "archive.toml"
    path.write_text(f'[paths]\ndata_dir = "{data_dir}"\n{extra}'
                    f'[retention]\npolicies_dir = "{env.policies}"\n', encoding="utf-8")
    s = RetentionSettings.from_config(load_config(path))
    return RetentionSettings(**{**s.__dict__, "media_bucket": env.media, "batch_size": 4})  # type: ignore[arg-type]


def run_pressure(env: REnv, settings: RetentionSettings) -> int:
    """Six dishub segments 25 days old, locked 30 days (only pressure deletes them); the count deleted."""
    atcs = env.cam("atcs")
    now = env.clock()
    env.record(atcs, starts(now - 25 * DAY, 6), Retention(LockMode.GOVERNANCE, now + 30 * DAY))
    svc = assemble_retention(engine=env.engine, store=env.store, ledger=env.ledger, cameras=lambda: env.cams,
                             settings=settings, now=env.clock)
    return svc.run().execution.deleted


def test_a_foreign_file_on_the_stores_filesystem_deletes_nothing(renv: REnv, small_fs: Path, tmp_path: Path) -> None:
    data_dir = small_fs / "var"
    (data_dir / "store").mkdir(parents=True)
    with open(small_fs / "someone-elses-backup.tar", "wb") as f:  # 95 % of the filesystem, not ours
        f.write(os.urandom(int(FS_BYTES * 0.95)))
    assert run_pressure(renv, configured(renv, data_dir, tmp_path)) == 0


def test_our_own_bytes_over_the_configured_capacity_delete_early(renv: REnv, tmp_path: Path) -> None:
    settings = configured(renv, tmp_path / "var", tmp_path, f"[storage]\ncapacity_bytes = {6 * SIZE}\n")
    assert run_pressure(renv, settings) > 0  # 6 of 6 segments' bytes: 100 % of the capacity


@pytest.mark.parametrize("key", ["usage_path = \"/srv\"", "capacity_bytes = 1000"])
def test_the_old_filesystem_settings_are_refused(key: str, tmp_path: Path) -> None:
    path = tmp_path / "archive.toml"
    path.write_text(f"[retention]\n{key}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[storage\] capacity_bytes"):
        load_config(path)



