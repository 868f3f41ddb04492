"""The object store adapter, the lock probe and the embedded SeaweedFS, against a real ``weed``.

Nothing here is mocked: every test speaks S3 (or raw HTTP / TLS) to a ``weed mini`` process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import signal
import socket
import ssl
import stat
import subprocess
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from archive.errors import (
    ObjectLockedError,
    ObjectMissingError,
    StorageDeniedError,
    StorageError,
    StorageUnavailableError,
    ToolError,
)
from archive.storage.base import LockMode, ObjectInfo, ObjectStore, Retention
from archive.storage.probe import CLEANUP, PROBE_PREFIX, probe_object_lock
from archive.storage.s3 import S3Store
from archive.storage.seaweed import GRPC_OFFSET, EmbeddedSeaweed, find_weed
from tests.fixtures.s3 import service_store_for, store_for


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=seconds)


def _compliance(seconds: float = 3600) -> Retention:
    return Retention(LockMode.COMPLIANCE, _utc(seconds))


def _governance(seconds: float = 3600) -> Retention:
    return Retention(LockMode.GOVERNANCE, _utc(seconds))


def test_s3store_satisfies_the_protocol(s3_store: S3Store) -> None:
    store: ObjectStore = s3_store  # checked by mypy; here only that it is usable as one
    store.ping()


# -- roundtrip -------------------------------------------------------------------------------


def test_put_file_stat_get_and_stream_roundtrip(s3_store: S3Store, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "segment.ts"
    path.write_bytes(data)
    until = _utc(3600)
    put = s3_store.put_file(
        bucket,
        "cam-1/2026/seg-000001.ts",
        str(path),
        content_type="video/mp2t",
        metadata={"sha256": hashlib.sha256(data).hexdigest(), "Camera": "cam-1"},
        retention=Retention(LockMode.GOVERNANCE, until),
    )
    assert put.size == len(data)
    assert put.version_id and put.version_id != "null"
    assert put.etag

    info = s3_store.stat(bucket, "cam-1/2026/seg-000001.ts", put.version_id)
    assert info.version_id == put.version_id
    assert info.size == len(data)
    assert info.etag == put.etag
    assert info.metadata == {"sha256": hashlib.sha256(data).hexdigest(), "camera": "cam-1"}
    assert info.retention == Retention(LockMode.GOVERNANCE, until)
    assert info.legal_hold is False
    assert info.last_modified is not None and info.last_modified.tzinfo is not None

    assert s3_store.get_bytes(bucket, "cam-1/2026/seg-000001.ts", put.version_id) == data
    chunks = list(s3_store.open(bucket, "cam-1/2026/seg-000001.ts", put.version_id))
    assert len(chunks) > 1
    assert b"".join(chunks) == data


def test_multipart_sized_put_file_confirms_size(s3_store: S3Store, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(12 * 1024 * 1024 + 5)  # above minio's 5 MiB part size: multipart upload
    path = tmp_path / "big.mp4"
    path.write_bytes(data)
    put = s3_store.put_file(bucket, "big.mp4", str(path), retention=_compliance(), legal_hold=True)
    assert put.size == len(data)
    info = s3_store.stat(bucket, "big.mp4", put.version_id)
    assert info.legal_hold is True
    assert info.retention is not None and info.retention.mode is LockMode.COMPLIANCE
    assert hashlib.sha256(s3_store.get_bytes(bucket, "big.mp4", put.version_id)).digest() == (
        hashlib.sha256(data).digest()
    )


def test_put_raises_when_store_confirms_another_size(
    s3_store: S3Store, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_stat = S3Store.stat

    def lying_stat(self: S3Store, b: str, k: str, v: str | None = None) -> ObjectInfo:
        info = real_stat(self, b, k, v)
        return dataclasses.replace(info, size=info.size + 1)

    monkeypatch.setattr(S3Store, "stat", lying_stat)
    with pytest.raises(StorageError, match="confirmed size"):
        s3_store.put_bytes(bucket, "x", b"12345")


def test_put_bytes_signs_the_callers_sha256_as_the_payload_hash(s3_store: S3Store, bucket: str) -> None:
    """The hash the recorder computed is what SigV4 signs (x-amz-content-sha256), not a second
    hash minio makes: AWS S3 and MinIO then refuse a body that differs (XAmzContentSHA256Mismatch).
    SeaweedFS does not check the payload hash (measured: a wrong one is accepted), so with the
    embedded store the HEAD confirmation and ``archive verify`` remain the checks."""
    data = os.urandom(3 * 1024 * 1024)
    good = hashlib.sha256(data).hexdigest()
    trace = io.StringIO()
    s3_store._client.trace_on(trace)
    try:
        put = s3_store.put_bytes(bucket, "seg.ts", data, sha256=good, retention=_compliance())
    finally:
        s3_store._client.trace_off()
    sent = [line for line in trace.getvalue().splitlines() if line.lower().startswith("x-amz-content-sha256")]
    assert sent and sent[0].split(":", 1)[1].strip() == good
    assert hashlib.sha256(s3_store.get_bytes(bucket, "seg.ts", put.version_id)).hexdigest() == good
    assert put.size == len(data) and put.metadata == {}


def test_put_of_missing_local_file_is_a_storage_error(s3_store: S3Store, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot read"):
        s3_store.put_file(bucket, "x", str(tmp_path / "nope.ts"))


def test_metadata_must_be_printable_ascii(s3_store: S3Store, bucket: str) -> None:
    with pytest.raises(StorageError, match="ASCII"):
        s3_store.put_bytes(bucket, "k", b"1", metadata={"note": "café"})
    with pytest.raises(StorageError, match="timezone-aware"):
        s3_store.put_bytes(bucket, "k", b"1", retention=Retention(LockMode.GOVERNANCE, dt.datetime(2100, 1, 1)))
    with pytest.raises(ObjectMissingError):
        s3_store.stat(bucket, "k")  # nothing was written


def test_versions_are_kept_and_listed(s3_store: S3Store, bucket: str) -> None:
    first = s3_store.put_bytes(bucket, "log/checkpoint", b"one")
    second = s3_store.put_bytes(bucket, "log/checkpoint", b"two")
    s3_store.put_bytes(bucket, "other/x", b"zzz")
    assert first.version_id != second.version_id
    assert s3_store.stat(bucket, "log/checkpoint").version_id == second.version_id
    assert s3_store.get_bytes(bucket, "log/checkpoint", first.version_id) == b"one"
    assert s3_store.get_bytes(bucket, "log/checkpoint") == b"two"
    listed = {(v.key, v.version_id, v.size) for v in s3_store.list_versions(bucket, "log/")}
    assert listed == {
        ("log/checkpoint", first.version_id, 3),
        ("log/checkpoint", second.version_id, 3),
    }


def test_ensure_bucket_is_idempotent_and_refuses_unlocked_bucket(s3_store: S3Store, bucket: str) -> None:
    s3_store.ensure_bucket(bucket)  # exists already: fine
    plain = bucket + "-plain"
    s3_store.ensure_bucket(plain, object_lock=False)
    assert s3_store.put_bytes(plain, "k", b"v").version_id  # versioned all the same
    with pytest.raises(StorageError, match="without object lock"):
        s3_store.ensure_bucket(plain, object_lock=True)


def test_presigned_get_serves_that_version(s3_store: S3Store, bucket: str) -> None:
    old = s3_store.put_bytes(bucket, "clip.mp4", b"old bytes")
    s3_store.put_bytes(bucket, "clip.mp4", b"new bytes")
    url = s3_store.presigned_get(bucket, "clip.mp4", old.version_id, dt.timedelta(minutes=5))
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.read() == b"old bytes"
    with pytest.raises(StorageError):
        s3_store.presigned_get(bucket, "clip.mp4", None, dt.timedelta(days=8))


# -- object lock -----------------------------------------------------------------------------


def test_delete_of_locked_versions_is_refused(s3_store: S3Store, bucket: str) -> None:
    comp = s3_store.put_bytes(bucket, "c", b"compliance", retention=_compliance())
    gov = s3_store.put_bytes(bucket, "g", b"governance", retention=_governance())
    free = s3_store.put_bytes(bucket, "f", b"free")

    for bypass in (False, True):
        with pytest.raises(ObjectLockedError, match="COMPLIANCE retention"):
            s3_store.delete_version(bucket, "c", comp.version_id, bypass_governance=bypass)
    with pytest.raises(ObjectLockedError, match="GOVERNANCE retention"):
        s3_store.delete_version(bucket, "g", gov.version_id)
    assert s3_store.get_bytes(bucket, "c", comp.version_id) == b"compliance"
    assert s3_store.get_bytes(bucket, "g", gov.version_id) == b"governance"

    s3_store.delete_version(bucket, "g", gov.version_id, bypass_governance=True)
    s3_store.delete_version(bucket, "f", free.version_id)
    for key, version in (("g", gov.version_id), ("f", free.version_id)):
        with pytest.raises(ObjectMissingError):
            s3_store.stat(bucket, key, version)
    s3_store.delete_version(bucket, "f", free.version_id)  # already gone: idempotent


def test_legal_hold_blocks_delete_even_with_bypass(s3_store: S3Store, bucket: str) -> None:
    put = s3_store.put_bytes(bucket, "held", b"evidence")
    s3_store.set_legal_hold(bucket, "held", put.version_id, True)
    assert s3_store.stat(bucket, "held", put.version_id).legal_hold is True
    for bypass in (False, True):
        with pytest.raises(ObjectLockedError, match="legal hold"):
            s3_store.delete_version(bucket, "held", put.version_id, bypass_governance=bypass)
    s3_store.set_legal_hold(bucket, "held", put.version_id, False)
    assert s3_store.stat(bucket, "held", put.version_id).legal_hold is False
    s3_store.delete_version(bucket, "held", put.version_id)
    with pytest.raises(ObjectMissingError):
        s3_store.stat(bucket, "held", put.version_id)


def test_retention_extends_but_never_shortens(s3_store: S3Store, bucket: str) -> None:
    first = _compliance(600)
    put = s3_store.put_bytes(bucket, "r", b"x", retention=first)
    longer = Retention(LockMode.COMPLIANCE, first.until + dt.timedelta(days=1))
    s3_store.set_retention(bucket, "r", put.version_id, longer)
    assert s3_store.stat(bucket, "r", put.version_id).retention == longer

    with pytest.raises(ObjectLockedError):
        s3_store.set_retention(bucket, "r", put.version_id, first)
    with pytest.raises(ObjectLockedError):  # weakening the mode is shortening too
        s3_store.set_retention(bucket, "r", put.version_id, Retention(LockMode.GOVERNANCE, longer.until))
    assert s3_store.stat(bucket, "r", put.version_id).retention == longer


# -- error translation -----------------------------------------------------------------------


def test_missing_key_version_and_bucket_raise_object_missing(s3_store: S3Store, bucket: str) -> None:
    put = s3_store.put_bytes(bucket, "here", b"1")
    bogus = "0" * 32
    calls: list[Callable[[], object]] = [
        lambda: s3_store.stat(bucket, "absent"),
        lambda: s3_store.get_bytes(bucket, "absent"),
        lambda: s3_store.open(bucket, "absent"),
        lambda: s3_store.get_bytes(bucket, "here", bogus),
        lambda: s3_store.set_legal_hold(bucket, "absent", put.version_id, True),
        lambda: s3_store.stat(bucket + "-absent", "here"),
        lambda: s3_store.put_bytes(bucket + "-absent", "k", b"1"),  # no implicit bucket creation
        lambda: list(s3_store.list_versions(bucket + "-absent")),
    ]
    for call in calls:
        with pytest.raises(ObjectMissingError):
            call()


def test_wrong_credentials_are_denied_without_leaking_the_secret(
    seaweed: EmbeddedSeaweed, bucket: str, s3_store: S3Store
) -> None:
    s3_store.put_bytes(bucket, "k", b"1")
    secret = "Wrong-Secret-3b1f9c7e2d"
    wrong_secret = S3Store(seaweed.endpoint, seaweed.credentials.access_key, secret, secure=False)
    wrong_key = S3Store(seaweed.endpoint, "AKNOBODY", secret, secure=False)
    for store in (wrong_secret, wrong_key):
        for call in (store.ping, lambda s=store: s.stat(bucket, "k"), lambda s=store: s.get_bytes(bucket, "k")):
            with pytest.raises(StorageDeniedError) as info:
                call()
            assert secret not in "".join(traceback.format_exception(info.value))  # with the minio cause
            assert secret not in repr(store)


def test_stopped_store_is_unavailable_within_seconds(tmp_path: Path) -> None:
    with EmbeddedSeaweed(tmp_path / "second", buckets=("short-lived",)) as second:
        store = service_store_for(second)
        put = store.put_bytes("short-lived", "k", b"1")
    assert not second.running
    calls: list[Callable[[], object]] = [
        store.ping,
        lambda: store.stat("short-lived", "k", put.version_id),
        lambda: store.put_bytes("short-lived", "k2", b"2"),
        lambda: store.delete_version("short-lived", "k", put.version_id),
        lambda: probe_object_lock(store, "short-lived"),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError) as info:
            call()
        assert time.monotonic() - started < 5
        assert second.credentials.secret_key not in str(info.value)


def test_hung_store_times_out_instead_of_hanging(tmp_path: Path) -> None:
    """A store that accepts connections but never answers (SIGSTOP) fails after the read timeout."""
    with EmbeddedSeaweed(tmp_path / "frozen") as frozen:
        creds = frozen.credentials
        store = S3Store(frozen.endpoint, creds.access_key, creds.secret_key, secure=False, read_timeout=2.0)
        store.ping()
        assert frozen.pid is not None
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            for _ in range(200):  # SIGSTOP is asynchronous: wait until the process is stopped
                if Path(f"/proc/{frozen.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T":
                    break
                time.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(StorageUnavailableError, match="unreachable"):
                store.ping()
            assert time.monotonic() - started < 6  # read timeout 2 s, no read retries
        finally:
            os.kill(frozen.pid, signal.SIGCONT)


# -- probe -----------------------------------------------------------------------------------


def test_probe_passes_on_seaweedfs_and_cleans_up(s3_store: S3Store, bucket: str) -> None:
    result = probe_object_lock(s3_store, bucket)
    assert result.ok, result
    names = [c.name for c in result.checks]
    for expected in (
        "versioning",
        "retention_applied",
        "delete_refused",
        "shorten_refused",
        "extend_allowed",
        "legal_hold_applied",
        "legal_hold_delete_refused",
        CLEANUP,
    ):
        assert expected in names
    assert all(passed for _, passed, _ in result.checks), result.checks
    assert list(s3_store.list_versions(bucket, PROBE_PREFIX)) == []  # governance bypass worked


def test_probe_reports_failure_on_bucket_without_lock(s3_store: S3Store, bucket: str) -> None:
    plain = bucket + "-nolock"
    s3_store.ensure_bucket(plain, object_lock=False)
    result = probe_object_lock(s3_store, plain)
    assert not result.ok
    assert "NOT proven" in result.detail
    failed = {name for name, passed, _ in result.checks if not passed}
    assert "legal_hold_delete_refused" in failed  # the delete went through


# -- the embedded SeaweedFS: lock-down of the ports that bypass S3 -----------------------------


def _http(method: str, url: str) -> int:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _weed_shell(seaweed: EmbeddedSeaweed, command: str, home: Path, *, with_identity: bool) -> str:
    """Run ``weed shell`` as an outsider (no certificates) or with the store's own identity."""
    ports = seaweed.ports
    argv = [find_weed(), "-logtostderr", f"-logdir={home}"]
    if with_identity:
        argv.append(f"-config_dir={seaweed.config_dir}")
    argv += [
        "shell",
        f"-master=127.0.0.1:{ports.master}.{ports.master + GRPC_OFFSET}",
        f"-filer=127.0.0.1:{ports.filer}.{ports.filer + GRPC_OFFSET}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEED_")}
    env["HOME"] = str(home)  # no ~/.seaweedfs/security.toml
    try:
        done = subprocess.run(argv, input=command + "\n", capture_output=True, text=True, cwd=home, env=env, timeout=5)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        return out.decode() if isinstance(out, bytes) else out
    return done.stdout + done.stderr


def test_filer_http_refuses_delete_and_read_of_locked_version(
    seaweed: EmbeddedSeaweed, s3_store: S3Store, bucket: str
) -> None:
    """The MEASUREMENTS.md attack: an HTTP DELETE on the filer port removed a COMPLIANCE version."""
    put = s3_store.put_bytes(bucket, "cam/seg.ts", b"locked evidence", retention=_compliance())
    base = f"http://127.0.0.1:{seaweed.ports.filer}/buckets/{bucket}"
    paths = [f"{base}/cam/seg.ts", f"{base}/cam/seg.ts.versions/v_{put.version_id}", f"{base}/cam/", f"{base}/"]
    for url in paths:
        assert _http("DELETE", url) in (401, 403, 404, 405), url
        assert _http("GET", url) in (401, 403, 404, 405), url
    assert s3_store.get_bytes(bucket, "cam/seg.ts", put.version_id) == b"locked evidence"
    assert [v.version_id for v in s3_store.list_versions(bucket, "cam/")] == [put.version_id]


def test_grpc_ports_demand_a_client_certificate(seaweed: EmbeddedSeaweed) -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    for port in seaweed.ports.grpc():
        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:  # plaintext gRPC
            raw.sendall(preface)
            try:
                answer = raw.recv(64)
            except OSError:
                answer = b""
            assert answer[3:4] != b"\x04", f"port {port} speaks plaintext HTTP/2"
        with (  # TLS without a client certificate
            socket.create_connection(("127.0.0.1", port), timeout=3) as raw,
            pytest.raises((ssl.SSLError, ConnectionError)),
            context.wrap_socket(raw) as tls,
        ):
            tls.sendall(preface)
            if not tls.recv(64):
                raise ConnectionResetError("closed")


def test_weed_shell_without_store_identity_cannot_delete(
    seaweed: EmbeddedSeaweed, s3_store: S3Store, bucket: str, tmp_path: Path
) -> None:
    """An outsider's ``weed shell`` (filer gRPC) cannot remove a locked version.

    The control run with the store's own certificates (``seaweed.config_dir``) lists the version:
    the addresses and the command are right, only the missing identity stops the outsider. It also
    shows the residual risk: whoever can read the data directory (same OS user, root) can bypass
    object lock in SeaweedFS, because its filer does not enforce it.
    """
    put = s3_store.put_bytes(bucket, "cam/seg.ts", b"locked evidence", retention=_compliance())
    versions = f"/buckets/{bucket}/cam/seg.ts.versions"
    _weed_shell(seaweed, f"fs.rm -r {versions}", tmp_path, with_identity=False)
    assert s3_store.get_bytes(bucket, "cam/seg.ts", put.version_id) == b"locked evidence"
    listing = _weed_shell(seaweed, f"fs.ls {versions}", tmp_path, with_identity=True)
    assert f"v_{put.version_id}" in listing


def test_volume_http_demands_jwt_and_master_http_api_is_off(
    seaweed: EmbeddedSeaweed, s3_store: S3Store, bucket: str, tmp_path: Path
) -> None:
    put = s3_store.put_bytes(bucket, "cam/seg.ts", b"locked evidence", retention=_compliance())
    entry = _weed_shell(
        seaweed, f"fs.meta.cat /buckets/{bucket}/cam/seg.ts.versions/v_{put.version_id}", tmp_path, with_identity=True
    )
    file_id = json.loads(entry[entry.index("{") : entry.rindex("}") + 1])["chunks"][0]["fileId"]
    volume = f"http://127.0.0.1:{seaweed.ports.volume}/{file_id}"
    assert _http("DELETE", volume) == 401
    assert _http("GET", volume) == 401
    master = f"http://127.0.0.1:{seaweed.ports.master}"
    for path in (f"/col/delete?collection={bucket}", "/vol/vacuum", "/dir/assign", f"/{file_id}"):
        assert _http("GET", master + path) == 404, path
    assert s3_store.get_bytes(bucket, "cam/seg.ts", put.version_id) == b"locked evidence"


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc (no psutil)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            hex_ip, hex_port = local.split(":")
            raw = bytes.fromhex(hex_ip)
            if width == 8:
                address = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                address = socket.inet_ntop(socket.AF_INET6, words)
            found.append((address, int(hex_port, 16)))
    return found


def test_binds_only_to_loopback(seaweed: EmbeddedSeaweed, s3_store: S3Store) -> None:
    s3_store.ping()
    assert seaweed.pid is not None
    listening = _listening(seaweed.pid)
    ports = {port for _, port in listening}
    assert seaweed.ports.s3 in ports and seaweed.ports.filer + GRPC_OFFSET in ports
    assert {address for address, _ in listening} == {"127.0.0.1"}, listening


# -- the embedded SeaweedFS: persistence and failures ------------------------------------------


def test_credentials_and_data_survive_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    with EmbeddedSeaweed(data_dir, buckets=("evidence",)) as first:  # made in a one-time Admin session
        creds = first.credentials
        ports = first.ports
        store = service_store_for(first)
        put = store.put_bytes("evidence", "cam/seg.ts", b"kept", retention=_compliance(), legal_hold=True)
    identity = data_dir / "s3.json"
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "conf" / "security.toml").stat().st_mode) == 0o600
    assert creds.secret_key not in repr(creds)

    assert "Admin" not in identity.read_text(encoding="utf-8")  # the session's Admin identity is gone
    with EmbeddedSeaweed(data_dir, buckets=("evidence",)) as second:
        assert second.credentials == creds
        assert second.ports == ports  # still free, so reused
        store = service_store_for(second)
        info = store.stat("evidence", "cam/seg.ts", put.version_id)
        assert info.legal_hold is True and info.retention is not None
        assert store.get_bytes("evidence", "cam/seg.ts", put.version_id) == b"kept"
        with pytest.raises(ObjectLockedError):
            store.delete_version("evidence", "cam/seg.ts", put.version_id, bypass_governance=True)
    assert "archive: starting weed mini" in (data_dir / "weed.log").read_text()


def test_two_instances_run_side_by_side(seaweed: EmbeddedSeaweed, tmp_path: Path) -> None:
    with EmbeddedSeaweed(tmp_path / "other") as other:
        assert set(other.ports.http() + other.ports.grpc()).isdisjoint(seaweed.ports.http() + seaweed.ports.grpc())
        assert other.credentials != seaweed.credentials
        service_store_for(other).ping()
        store_for(seaweed).ping()


def test_data_dir_in_use_is_refused_without_touching_it(seaweed: EmbeddedSeaweed, s3_store: S3Store) -> None:
    security = (seaweed.config_dir / "security.toml").read_bytes()
    with pytest.raises(ToolError, match="in use by pid"):
        EmbeddedSeaweed(seaweed.data_dir).start()
    assert (seaweed.config_dir / "security.toml").read_bytes() == security
    s3_store.ping()


def test_start_failure_is_a_tool_error_with_the_log(tmp_path: Path) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'fake weed: cannot bind anything' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(ToolError, match="cannot bind anything"):
        EmbeddedSeaweed(tmp_path / "d", weed=fake, start_timeout=5).start()
    with pytest.raises(ToolError, match="not found"):
        EmbeddedSeaweed(tmp_path / "d", weed=tmp_path / "missing").start()
