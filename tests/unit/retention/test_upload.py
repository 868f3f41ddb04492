"""Object-lock retention at upload = the owner's policy; reloads on change, keeps the last valid set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.model import Camera
from archive.retention.upload import PolicyStore, UploadRetention
from archive.storage.base import LockMode

REPO_POLICIES = Path(__file__).resolve().parents[3] / "retention_policies"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def cam(cid: str, owner: str, tags: tuple[str, ...] = ()) -> Camera:
    return Camera(cid, cid, owner, "rtsp://x", 0.0, 0.0, "here", tags)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_lock_until_is_start_plus_the_owners_keep_period() -> None:
    cams = [cam("dishub-001", "dishub"), cam("sunrise-lobby", "sunrise-mall"), cam("x", "no-file-owner")]
    up = UploadRetention(PolicyStore(REPO_POLICIES), lambda: cams, mode=LockMode.COMPLIANCE, clock=lambda: NOW)
    start = NOW - timedelta(minutes=1)
    for cid, days in (("dishub-001", 30), ("sunrise-lobby", 14), ("x", 30), ("unregistered", 30)):
        r = up(cid, start)
        assert r.mode is LockMode.COMPLIANCE and r.until == start + timedelta(days=days), cid


def test_late_footage_still_gets_a_future_lock() -> None:
    up = UploadRetention(PolicyStore(REPO_POLICIES), lambda: [cam("s", "sunrise-mall")], clock=lambda: NOW,
                         min_lock=timedelta(hours=1))
    assert up("s", NOW - timedelta(days=20)).until == NOW + timedelta(hours=1)


def test_policy_edits_are_picked_up_and_invalid_edits_keep_the_last_valid_set(tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "p"
    shutil.copytree(REPO_POLICIES, d)
    mono = Clock()
    store = PolicyStore(d, check_s=5, monotonic=mono)
    up = UploadRetention(store, lambda: [cam("s", "sunrise-mall")], clock=lambda: NOW, monotonic=mono)
    assert up.keep_days("s") == 14
    f = d / "sunrise-mall.toml"
    f.write_text(f.read_text().replace("keep_days = 14", "keep_days = 21"))
    assert up.keep_days("s") == 14  # not checked again yet
    mono.t = 10
    assert up.keep_days("s") == 21
    f.write_text(f.read_text().replace("keep_days = 21", "keep_days = -1"))
    mono.t = 20
    assert up.keep_days("s") == 21 and store.error is not None and "keep_days" in store.error


def test_registry_failure_falls_back_to_the_city_default() -> None:
    from archive.errors import CatalogError

    def broken() -> list[Camera]:
        raise CatalogError("down")

    up = UploadRetention(PolicyStore(REPO_POLICIES), broken, clock=lambda: NOW)
    assert up("sunrise-lobby", NOW).until == NOW + timedelta(days=30)


def test_no_valid_policies_at_all_uses_the_storage_default(tmp_path: Path) -> None:
    up = UploadRetention(PolicyStore(tmp_path / "missing"), lambda: [], default_keep_days=45, clock=lambda: NOW)
    assert up("a", NOW).until == NOW + timedelta(days=45)
