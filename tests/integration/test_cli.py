"""The console script as a person runs it: exit codes, sentences, no tracebacks, secrets masked."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive.cli import build_parser
from archive.procinfo import argv_exposed

REPO = Path(__file__).resolve().parents[2]
ARCHIVE = Path(sys.executable).parent / "archive"


def run(args, tmp_path, env_extra=None):
    cfg = tmp_path / "archive.toml"
    if not cfg.exists():
        cfg.write_text('[paths]\ndata_dir = "state"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(env_extra or {})
    return subprocess.run([str(ARCHIVE), "--config", str(cfg), *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def all_command_paths():
    paths = [[]]
    parser = build_parser()

    def walk(p, prefix):
        for action in p._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(parser, [])
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "archive")
def test_every_command_has_help(path, tmp_path):
    r = subprocess.run([str(ARCHIVE), *path, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "usage:" in r.stdout


def test_bad_camera_file_exit_2_with_file_line_and_no_traceback(tmp_path):
    bad = tmp_path / "cams.yaml"
    bad.write_text("owners:\n  - id: o\n    name: O\n    kind: private\ncameras:\n  - id: c1\n    name: C\n"
                   "    owner: o\n    stream_url: gopher://x\n    latitude: 1\n    longitude: 500\n    location: L\n")
    r = run(["cameras", "import", str(bad)], tmp_path)
    assert r.returncode == 2
    assert f"{bad}:9: stream_url scheme 'gopher' is not allowed" in r.stderr
    assert f"{bad}:11: longitude 500 is out of range" in r.stderr
    assert "nothing was changed" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    listing = run(["cameras", "list"], tmp_path)
    assert listing.returncode == 0 and "0 cameras" in listing.stdout


def test_import_list_never_shows_passwords(tmp_path):
    cams = tmp_path / "cams.yaml"
    cams.write_text("owners:\n  - id: o\n    name: O\n    kind: private\ncameras:\n  - id: c1\n    name: C\n"
                    "    owner: o\n    stream_url: rtsp://admin:Very5ecret@10.0.0.1/ch1\n    latitude: 1\n"
                    "    longitude: 100\n    location: L\n")
    r = run(["cameras", "import", str(cams)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "cameras: 1 created, 0 updated, 0 unchanged" in r.stdout
    again = run(["cameras", "import", str(cams)], tmp_path)
    assert "cameras: 0 created, 0 updated, 1 unchanged" in again.stdout
    for args in (["cameras", "list"], ["cameras", "list", "--json"], ["owners", "list"]):
        out = run(args, tmp_path)
        assert out.returncode == 0
        assert "Very5ecret" not in out.stdout + out.stderr
    assert "password=***" in run(["cameras", "list"], tmp_path).stdout
    key = tmp_path / "state" / "keys" / "credentials.key"
    assert key.exists() and (key.stat().st_mode & 0o077) == 0
    db = (tmp_path / "state" / "catalog.sqlite3").read_bytes()
    assert b"Very5ecret" not in db
    # The password will be in ffmpeg's argv: health says whether other local users could read it.
    health = run(["health", "--json"], tmp_path)
    assert "Very5ecret" not in health.stdout + health.stderr
    check = {c["name"]: c for c in json.loads(health.stdout)["checks"]}["recorder.argv_privacy"]
    assert check["ok"] is (not argv_exposed())
    if not check["ok"]:
        assert health.returncode == 1 and "ProtectProc=invisible" in check["detail"]


def test_config_check_masks_secrets(tmp_path):
    cfg = tmp_path / "archive.toml"
    cfg.write_text("[storage]\nmode = 's3'\nendpoint = 'minio:9000'\naccess_key = 'AK'\nsecret_key = 'S3cr3tKey'\n"
                   "[catalog]\nurl = 'postgresql://u:DbPass@db/archive'\n")
    r = run(["config", "check"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "S3cr3tKey" not in r.stdout and "DbPass" not in r.stdout
    assert 'secret_key = "***"' in r.stdout


@pytest.mark.parametrize(
    ("config", "env", "needle"),
    [
        ("[storage]\nwhat = 1\n", {}, "unknown key 'what'"),
        ("", {"ARCHIVE_STORAGE_MOOD": "x"}, "unknown key 'mood'"),
        ("[recorder]\nsegment_seconds = 1\n", {}, "between 2 and 60"),
    ],
)
def test_bad_config_exit_2(tmp_path, config, env, needle):
    (tmp_path / "archive.toml").write_text(config)
    r = run(["config", "check"], tmp_path, env)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_usage_error_exit_2(tmp_path):
    r = subprocess.run([str(ARCHIVE), "cameras", "frobnicate"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_health_embedded_store_ok(tmp_path):
    r = run(["health", "--json"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    names = {c["name"]: c for c in report["checks"]}
    assert names["storage.object_lock"]["ok"] is True
    assert names["catalog.migrations"]["ok"] is True
    assert not (tmp_path / "state" / "store" / "running.json").exists()


def test_health_store_down_exit_1(tmp_path):
    (tmp_path / "archive.toml").write_text(
        "[paths]\ndata_dir = 'state'\n[storage]\nmode = 's3'\nendpoint = '127.0.0.1:1'\naccess_key = 'a'\n"
        "secret_key = 'NotShown99'\nsecure = false\n")
    r = run(["health"], tmp_path)
    assert r.returncode == 1
    assert "FAIL storage" in r.stdout
    assert "NotShown99" not in r.stdout + r.stderr and "Traceback" not in r.stderr
