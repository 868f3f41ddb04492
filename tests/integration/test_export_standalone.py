"""The bundled verifier runs alone: a fresh venv with only ``cryptography`` (installed offline
from a wheel directory), a working directory outside the repository, ``archive`` not importable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from archive.ledger.witness import add_cosignature, witness_cosign, witness_keygen
from archive.storage.s3 import S3Store
from tests.integration import export_support as xs

WHEELS = Path.home() / ".cache" / "archive" / "verifier-wheels"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = "/usr/bin:/bin"
    return env


@pytest.fixture(scope="session")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with cryptography (and its dependencies) only."""
    if not list(WHEELS.glob("cryptography-*.whl")):
        WHEELS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary=:all:", "-d", str(WHEELS),
                        "cryptography"], check=True, capture_output=True, timeout=300)
    venv = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300,
                   env=_clean_env())
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-index", "--find-links", str(WHEELS), "cryptography"],
                   check=True, capture_output=True, timeout=300, env=_clean_env())
    return py


def test_bundled_verifier_runs_alone(clean_python: Path, s3_store: S3Store, tmp_path: Path) -> None:
    witness = witness_keygen("police.example.org/witness")
    env = xs.make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path,
                      witness_keys=(witness.verifier_key,))  # fmt: skip
    xs.record_cameras(env, xs.make_clips(tmp_path / "clips"))
    for cam in ("cam-a", "mall-1"):  # a witness cosigned both checkpoints
        cp = env.ledger.checkpoint(cam)
        assert cp is not None
        line = witness_cosign(witness, cp.note, env.ledger.keys.active().public)
        add_cosignature(env.ledger, cam, cp.size, line, witness.verifier_key)
    path = xs.approve_and_build(env, xs.request(env))
    outside = tmp_path / "court"
    outside.mkdir()
    shutil.copy(path, outside / path.name)
    zipfile.ZipFile(path).extractall(outside)
    (folder,) = [p for p in outside.iterdir() if p.is_dir()]
    clean = _clean_env()
    probe = subprocess.run([str(clean_python), "-c", "import archive"], cwd=outside, capture_output=True, text=True,
                           env=clean)
    assert probe.returncode != 0 and "No module named 'archive'" in probe.stderr
    pkgs = subprocess.run([str(clean_python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                          text=True, env=clean).stdout
    assert "cryptography==" in pkgs and "archive" not in pkgs
    # Run in the unpacked folder with no argument, and on the zip from elsewhere.
    run = subprocess.run([str(clean_python), "verify_package.py", *env.trust_args, "--witness",
                          witness.verifier_key.encode()], cwd=folder, capture_output=True, text=True, env=clean,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "VERDICT: VALID" in run.stdout and "camera_unreachable (RTSP timeout)" in run.stdout
    assert run.stdout.count(f"witness cosignature by {witness.name}+{witness.key_id.hex()}") == 2
    assert run.stdout.count("(--witness) cosigned this checkpoint") == 2
    assert "hashing" in run.stderr  # progress
    assert not list(folder.rglob("__pycache__")), "the verifier wrote into the evidence folder"
    run = subprocess.run([str(clean_python), str(folder / "verify_package.py"), str(outside / path.name),
                          *env.trust_args, "--package-hash"], cwd=tmp_path, capture_output=True,
                         text=True, env=clean, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"package SHA-256: {env.exports.service.record(path.parent.name).package_sha256}" in run.stdout
    # A flipped byte: exit 1 and the failure named.
    seg = sorted((folder / "cameras" / "mall-1" / "segments").iterdir())[0]
    data = bytearray(seg.read_bytes())
    data[100] ^= 0xFF
    seg.write_bytes(bytes(data))
    run = subprocess.run([str(clean_python), "verify_package.py"], cwd=folder, capture_output=True, text=True,
                         env=clean, timeout=120)
    assert run.returncode == 1
    assert "VERDICT: INVALID" in run.stdout and "its log entry says" in run.stdout
    run = subprocess.run([str(clean_python), "verify_package.py", "--trust", "nonsense"], cwd=folder,
                         capture_output=True, text=True, env=clean, timeout=120)
    assert run.returncode == 2 and "--trust" in run.stderr
    other = witness_keygen("stranger.example.org/witness").verifier_key.encode()
    run = subprocess.run([str(clean_python), "verify_package.py", "--witness", other], cwd=folder,
                         capture_output=True, text=True, env=clean, timeout=120)  # fmt: skip
    assert run.returncode == 1 and "no valid cosignature by the trusted witness stranger.example.org" in run.stdout
