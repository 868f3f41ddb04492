"""Least privilege of the embedded store's identities (issue 14 item 12), attacked for real.

Under the default GOVERNANCE lock, whoever holds the key the service runs with tries what an
intruder on the host would: delete a locked segment version with the bypass header. Before the
fix the store had one identity with Admin and the delete succeeded; now neither service identity
can bypass, and the bypass probe says so.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.bootstrap import Runtime
from archive.config import load_config
from archive.errors import ObjectLockedError
from archive.storage.base import LockMode, Retention
from archive.storage.s3 import S3Store
from archive.storage.seaweed import EmbeddedSeaweed
from tests.fixtures.s3 import store_for

ARCHIVE = Path(sys.executable).parent / "archive"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A runtime on the embedded store, as ``archive up`` runs it (started here, buckets made)."""
    root = tmp_path_factory.mktemp("identity")
    (root / "archive.toml").write_text('[paths]\ndata_dir = "var"\n', encoding="utf-8")
    with Runtime(load_config(root / "archive.toml", env={})) as rt:
        _ = rt.store
        yield rt


def _locked_segment(rt: Runtime, seconds: float = 3600.0) -> tuple[str, str, str]:
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    bucket, key = rt.config.storage.media_bucket, f"cam-x/{dt.datetime.now(dt.UTC):%H%M%S%f}.ts"
    put = rt.store.put_bytes(bucket, key, b"\x47" * 188, retention=Retention(LockMode.GOVERNANCE, until))
    return bucket, key, put.version_id


def _running_store(rt: Runtime) -> S3Store:
    """A client with the key another process of this data dir reads (what ``attach_running`` uses)."""
    assert rt.seaweed is not None
    ak, sk = EmbeddedSeaweed.read_credentials(rt.config.data_dir / "store")
    return S3Store(rt.seaweed.endpoint, ak, sk, secure=False)


def test_running_identity_cannot_bypass_governance_to_delete_a_segment(embedded: Runtime) -> None:
    bucket, key, version = _locked_segment(embedded)
    attacker = _running_store(embedded)
    with pytest.raises(ObjectLockedError):  # old code: the Admin identity deleted the version
        attacker.delete_version(bucket, key, version, bypass_governance=True)
    assert embedded.store.stat(bucket, key, version).version_id == version


def test_identity_file_holds_no_admin_or_bypass_right(embedded: Runtime) -> None:
    import json

    doc = json.loads((embedded.config.data_dir / "store" / "s3.json").read_text(encoding="utf-8"))
    rights = {e["name"]: set(e["actions"]) for e in doc["identities"]}
    assert set(rights) == {"archive-ingest", "archive-retention"}
    assert all(not ({"Admin", "BypassGovernanceRetention"} & r) for r in rights.values())


def test_an_old_admin_identity_file_is_replaced_at_start(tmp_path: Path) -> None:
    import json

    data = tmp_path / "store"
    data.mkdir()
    old = {"identities": [{"name": "archive", "credentials": [{"accessKey": "AKOLD", "secretKey": "old-secret"}],
                           "actions": ["Admin", "Read", "List", "Tagging", "Write", "WriteAcp", "ReadAcp"]}]}
    (data / "s3.json").write_text(json.dumps(old), encoding="utf-8")
    with EmbeddedSeaweed(data, buckets=("media-x",)) as weed:
        names = {e["name"] for e in json.loads((data / "s3.json").read_text(encoding="utf-8"))["identities"]}
        assert names == {"archive-ingest", "archive-retention"}
        assert weed.credentials.access_key != "AKOLD"
        from archive.errors import StorageDeniedError

        with pytest.raises(StorageDeniedError):  # the old Admin key no longer works
            S3Store(weed.endpoint, "AKOLD", "old-secret", secure=False).ping()
        ingest = S3Store(weed.endpoint, weed.credentials.access_key, weed.credentials.secret_key, secure=False)
        assert ingest.put_bytes("media-x", "k", b"x").version_id  # the bucket was made in the admin session


def test_bypass_probe_tells_an_admin_key_from_the_service_keys(embedded: Runtime, seaweed: EmbeddedSeaweed) -> None:
    from archive.storage.bypass_probe import probe_bypass

    media = embedded.config.storage.media_bucket
    for store in (embedded.store, embedded.retention_store):
        result = probe_bypass(store, media)
        assert result.refused and not result.can_bypass, result
    bucket = f"t-bypass-{dt.datetime.now(dt.UTC):%H%M%S%f}"
    store_for(seaweed).ensure_bucket(bucket)
    result = probe_bypass(store_for(seaweed), bucket, identity="the admin key")
    assert result.can_bypass and "the admin key CAN bypass GOVERNANCE retention" in result.detail


def test_health_reports_each_protection(embedded: Runtime) -> None:
    from archive.health import check_health

    checks = {c.name: c for c in check_health(embedded).checks}
    assert checks["storage.bypass"].ok, checks["storage.bypass"]
    assert "archive-ingest cannot bypass" in checks["storage.bypass"].detail
    assert "archive-retention cannot bypass" in checks["storage.bypass"].detail
    assert {"storage.lock_mode", "recorder.argv_privacy", "data.file_modes", "api.proxy_trust"} <= set(checks)
    assert checks["storage.lock_mode"].detail.startswith("GOVERNANCE")
    data = embedded.config.data_dir
    (data / "run").mkdir(mode=0o700, exist_ok=True)
    (data / "run" / "status.json").write_text("{}", encoding="utf-8")  # as while a service runs
    mode = data.stat().st_mode & 0o777
    try:
        data.chmod(0o755)
        modes = {c.name: c for c in check_health(embedded).checks}["data.file_modes"]
        assert not modes.ok and f"{data} is 0755;" in modes.detail and "while the service runs" in modes.detail
    finally:
        data.chmod(mode)
        (data / "run" / "status.json").unlink()


def _s3_config(tmp_path: Path, seaweed: EmbeddedSeaweed, extra: str = "") -> Path:
    tag = dt.datetime.now(dt.UTC).strftime("%H%M%S%f")
    media, logs = f"bp-media-{tag}", f"bp-logs-{tag}"
    store_for(seaweed).ensure_bucket(media)
    store_for(seaweed).ensure_bucket(logs)
    admin = seaweed.admin_credentials  # an operator who configured the store's Admin key
    path = tmp_path / "archive.toml"
    path.write_text(
        f'[paths]\ndata_dir = "var"\n[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\n'
        f'access_key = "{admin.access_key}"\nsecret_key = "{admin.secret_key}"\nsecure = false\n'
        f'media_bucket = "{media}"\nlog_bucket = "{logs}"\n{extra}', encoding="utf-8")  # fmt: skip
    return path


def test_up_refuses_to_start_with_an_identity_that_can_bypass(seaweed: EmbeddedSeaweed, tmp_path: Path) -> None:
    cfg = _s3_config(tmp_path, seaweed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    subprocess.run([str(ARCHIVE), "--config", str(cfg), "init"], capture_output=True, env=env, timeout=60, check=True)
    done = subprocess.run([str(ARCHIVE), "--config", str(cfg), "up"], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "refusing to start" in errors[0] and "CAN bypass GOVERNANCE retention" in errors[0]
    assert "accept_bypass_risk = true" in errors[0]
    assert admin_secret_absent(done.stdout + done.stderr, seaweed)


def admin_secret_absent(text: str, seaweed: EmbeddedSeaweed) -> bool:
    return seaweed.admin_credentials.secret_key not in text


def test_accepting_the_bypass_risk_is_explicit(seaweed: EmbeddedSeaweed, tmp_path: Path) -> None:
    from archive.health import check_health, refusals

    cfg = load_config(_s3_config(tmp_path, seaweed, "accept_bypass_risk = true\n"), env={})
    with Runtime(cfg) as rt:
        report = check_health(rt)
    check = {c.name: c for c in report.checks}["storage.bypass"]
    assert check.ok and check.detail.startswith("RISK ACCEPTED ([storage] accept_bypass_risk = true)")
    assert refusals(report) == []


def test_early_deletion_under_governance_waits_for_the_lock(embedded: Runtime) -> None:
    """The retention identity's delete of a still-locked version (with the bypass header, as the
    executor sends for an early selection) is refused; once the lock ends the same delete works."""
    bucket, key, version = _locked_segment(embedded, seconds=3)
    until = embedded.store.stat(bucket, key, version).retention
    assert until is not None
    with pytest.raises(ObjectLockedError):
        embedded.retention_store.delete_version(bucket, key, version, bypass_governance=True)
    delay = (until.until - dt.datetime.now(dt.UTC)).total_seconds()
    time.sleep(max(0.0, delay) + 1.2)
    embedded.retention_store.delete_version(bucket, key, version, bypass_governance=True)
    assert version not in {v.version_id for v in embedded.store.list_versions(bucket, key)}
