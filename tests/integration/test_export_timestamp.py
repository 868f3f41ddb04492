"""RFC 3161 time-stamp tokens in packages (EXPORT-SPEC.md 7.6), with a real ``openssl ts`` TSA on
loopback: the archive stamps every camera's checkpoint at build time; the package's verifier (the
archive's and the copy inside the package) checks each token against the checkpoint text and,
with ``--tsa-cert``, against the TSA the person verifying trusts; ``openssl ts -verify`` agrees.
A swapped or forged token, another TSA, a missing token where one is required, and a TSA that is
down at build time each fail with a sentence."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.errors import TimestampAuthorityError
from archive.export.timestamping import TimestampClient
from archive.export.verifier.checks import verify_package
from archive.export.verifier.outcome import Outcome
from archive.integrity import SignedNote
from archive.storage.s3 import S3Store
from tests.fixtures.tsa import OpensslTsa
from tests.integration import export_support as xs


@dataclass
class Stamped:
    env: xs.XEnv
    tsa: OpensslTsa
    zip: Path
    folder: Path

    def copy(self, dest: Path) -> Path:
        out = dest / self.folder.name
        shutil.copytree(self.folder, out)
        return out


@pytest.fixture(scope="module")
def stamped(s3_store: S3Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stamped]:
    tmp = tmp_path_factory.mktemp("export-tsa")
    with OpensslTsa(tmp / "tsa") as tsa:
        env = xs.make_env(f"sqlite:///{tmp / 'catalog.sqlite3'}", s3_store, tmp, working_copy=False,
                          timestamps=TimestampClient(tsa.url, (tsa.ca,)))  # fmt: skip
        xs.record_cameras(env, xs.make_clips(tmp / "clips"))
        path = xs.approve_and_build(env, xs.request(env))
        zipfile.ZipFile(path).extractall(tmp / "unpacked")
        (folder,) = list((tmp / "unpacked").iterdir())
        yield Stamped(env, tsa, path, folder)
    env.engine.dispose()  # type: ignore[attr-defined]


def _details(o: Outcome, check: str) -> str:
    return "\n".join(d for c in o.checks if c.name == check for d in c.details)


def _failures(o: Outcome) -> str:
    return "\n".join(o.failures)


def test_every_camera_checkpoint_carries_a_token_that_verifies(stamped: Stamped) -> None:
    assert stamped.tsa.requests == 2  # one per camera
    m = json.loads((stamped.folder / "manifest.json").read_text())
    for cam in m["cameras"]:
        assert cam["timestamp"]["path"] == f"cameras/{cam['id']}/checkpoint.tsr"
        listed = next(f for f in m["files"] if f["path"] == cam["timestamp"]["path"])
        assert listed["kind"] == "timestamp" and listed["size"] > 500
    o = verify_package(stamped.zip, trust=stamped.env.trust, tsa_certs=[stamped.tsa.ca_file])
    assert o.valid, o.failures
    for cam in ("cam-a", "mall-1"):
        assert "time-stamped at" in _details(o, f"camera {cam}")
        assert "signature checked against a TSA certificate you trusted" in _details(o, f"camera {cam}")
    assert any("time-stamping authority" in f and "RFC 3161" in f for f in o.facts), o.facts
    report = (stamped.folder / "report.html").read_text()
    assert report.count("<b>Time anchor</b>") == 2 and "openssl ts -verify" in report and "CN=Test TSA" in report
    o = verify_package(stamped.zip, trust=stamped.env.trust)  # without --tsa-cert: checked inside, not trusted
    assert o.valid and "not trusted" in _details(o, "camera cam-a"), o.failures


def test_openssl_ts_verify_accepts_the_token_over_the_checkpoint_text(stamped: Stamped, tmp_path: Path) -> None:
    cam = stamped.folder / "cameras" / "cam-a"
    text = tmp_path / "checkpoint.txt"  # the EXPORT-SPEC.md 7.6 recipe: sed -n '/^$/q;p' checkpoint.note
    subprocess.run(f"sed -n '/^$/q;p' {cam / 'checkpoint.note'} > {text}", shell=True, check=True)
    assert text.read_text() == SignedNote.parse((cam / "checkpoint.note").read_bytes()).text
    ok = subprocess.run(["openssl", "ts", "-verify", "-in", str(cam / "checkpoint.tsr"), "-data", str(text),
                         "-CAfile", str(stamped.tsa.ca_file)], capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stderr


def test_the_verifier_inside_the_package_checks_tokens(stamped: Stamped, tmp_path: Path) -> None:
    folder = stamped.copy(tmp_path)
    args = [sys.executable, "-I", str(folder / "verify_package.py"), str(folder), "--quiet", "--json",
            "--tsa-cert", str(stamped.tsa.ca_file), *[f"--trust={t}" for t in stamped.env.trust]]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    other = OpensslTsa(tmp_path / "other")
    args[args.index(str(stamped.tsa.ca_file))] = str(other.ca_file)
    out = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 1 and json.loads(out.stdout)["failed_step"] == 6, out.stdout[-2000:]


def test_a_token_nobody_trusted_fails_step_6(stamped: Stamped, tmp_path: Path) -> None:
    other = OpensslTsa(tmp_path / "other")
    o = verify_package(stamped.zip, trust=stamped.env.trust, tsa_certs=[other.ca_file])
    assert not o.valid and o.failed_step == 6
    assert "is not one you trusted" in _failures(o)


def test_a_swapped_token_fails_step_6_even_when_the_insider_reseals(stamped: Stamped, tmp_path: Path) -> None:
    """An insider with the export key swaps cam-a's token for mall-1's (a genuine token of another
    checkpoint) and re-signs the manifest: the token is over other bytes."""
    folder = stamped.copy(tmp_path)
    shutil.copy(folder / "cameras" / "mall-1" / "checkpoint.tsr", folder / "cameras" / "cam-a" / "checkpoint.tsr")
    xs.reseal(folder, xs.export_signer(stamped.env))
    o = verify_package(folder, trust=stamped.env.trust)
    assert not o.valid and o.failed_step == 6
    assert "camera cam-a: time-stamp token cameras/cam-a/checkpoint.tsr" in _failures(o)
    assert "messageImprint differs" in _failures(o)


def test_a_token_dropped_by_an_insider_fails_when_a_tsa_is_required(stamped: Stamped, tmp_path: Path) -> None:
    folder = stamped.copy(tmp_path)
    (folder / "cameras" / "cam-a" / "checkpoint.tsr").unlink()

    def drop(m: dict[str, object]) -> None:
        for cam in m["cameras"]:  # type: ignore[attr-defined]
            if cam["id"] == "cam-a":
                cam["timestamp"] = None

    xs.reseal(folder, xs.export_signer(stamped.env), drop)
    assert verify_package(folder, trust=stamped.env.trust).valid  # a token is optional ...
    o = verify_package(folder, trust=stamped.env.trust, tsa_certs=[stamped.tsa.ca_file])
    assert not o.valid and o.failed_step == 6  # ... unless the person verifying requires one
    assert "camera cam-a: no RFC 3161 time-stamp token" in _failures(o)


def test_a_gen_time_the_manifest_misstates_fails(stamped: Stamped, tmp_path: Path) -> None:
    folder = stamped.copy(tmp_path)

    def earlier(m: dict[str, object]) -> None:
        m["cameras"][0]["timestamp"]["gen_time"] = "2025-03-14T09:30:30.000000Z"  # type: ignore[index]

    xs.reseal(folder, xs.export_signer(stamped.env), earlier)
    o = verify_package(folder, trust=stamped.env.trust)
    assert not o.valid and o.failed_step == 6 and "the token says" in _failures(o)


def test_a_missing_tsa_cert_file_is_a_usage_error(stamped: Stamped, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "archive", "verify", "package", str(stamped.zip), "--tsa-cert",
                          str(tmp_path / "nope.pem")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 2 and "--tsa-cert" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_tsa_that_is_down_fails_the_build_with_its_reason(s3_store: S3Store, tmp_path: Path) -> None:
    with OpensslTsa(tmp_path / "tsa") as tsa:
        env = xs.make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path, working_copy=False,
                          timestamps=TimestampClient(tsa.url, (tsa.ca,), timeout_s=5))  # fmt: skip
        xs.record_cameras(env, xs.make_clips(tmp_path / "clips"))
        tsa.refuse = True
        with pytest.raises(TimestampAuthorityError, match="answered HTTP 503"):
            xs.approve_and_build(env, xs.request(env))
    env.engine.dispose()  # type: ignore[attr-defined]


def test_a_bad_timestamp_configuration_is_refused_with_a_sentence(tmp_path: Path) -> None:
    from archive.errors import ConfigError
    from archive.export.timestamping import timestamp_client

    assert timestamp_client("", None, 10) is None
    with pytest.raises(ConfigError, match="http:// or https://"):
        timestamp_client("file:///etc/passwd", None, 10)
    with pytest.raises(ConfigError, match="timestamp_ca_file"):
        timestamp_client("http://127.0.0.1:9/tsa", tmp_path / "missing.pem", 10)
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="timestamp_ca_file"):
        timestamp_client("http://127.0.0.1:9/tsa", tmp_path / "bad.pem", 10)
