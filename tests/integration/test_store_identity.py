"""Least privilege of the embedded store's identities (issue 14 item 12), attacked for real.

Under the default GOVERNANCE lock, whoever holds the key the service runs with tries what an
intruder on the host would: delete a locked segment version with the bypass header. Before the
fix the store had one identity with Admin and the delete succeeded; now neither service identity
can bypass, and the bypass probe says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.bootstrap import Runtime
from archive.config import load_config
from archive.errors import ObjectLockedError
from archive.storage.base import LockMode, Retention
from archive.storage.s3 import S3Store
from archive.storage.seaweed import EmbeddedSeaweed


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
