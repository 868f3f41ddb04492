"""Operator traps of the console script (issue 13 items 7, 9): no archive here, no such camera,
missing files, and output piped into a reader that stops early."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ARCHIVE = Path(sys.executable).parent / "archive"


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}


def run(args, cwd, config=True, stdin=None):
    """The console script in ``cwd``; with ``config``, an archive.toml there naming data dir 'state'."""
    argv = [str(ARCHIVE)]
    if config:
        cfg = Path(cwd) / "archive.toml"
        if not cfg.exists():
            cfg.write_text('[paths]\ndata_dir = "state"\n')
        argv += ["--config", str(cfg)]
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=_env(), cwd=cwd, timeout=180,
                          stdin=stdin)


def _no_traceback(r):
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


# -- no archive here -------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["cameras", "list"], ["verify", "camera", "c1"], ["holds", "list"],
                                  ["export", "list"], ["keys", "show"]], ids=" ".join)
def test_command_where_no_archive_exists_says_so_and_creates_nothing(tmp_path, args):
    r = run(args, tmp_path, config=False)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert f"no archive here ({tmp_path / 'var'}): run 'archive init' to create one, or give --config" in r.stderr
    _no_traceback(r)
    assert list(tmp_path.iterdir()) == []


def test_init_creates_the_archive_and_is_idempotent(tmp_path):
    r = run(["init"], tmp_path, config=False)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "archive.toml").is_file() and (tmp_path / "var").is_dir()
    assert (tmp_path / "var").stat().st_mode & 0o077 == 0
    toml = (tmp_path / "archive.toml").read_text()
    again = run(["init"], tmp_path, config=False)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "archive.toml").read_text() == toml
    listing = run(["cameras", "list"], tmp_path, config=False)
    assert listing.returncode == 0, listing.stderr
    assert "0 cameras" in listing.stdout


def test_commands_that_need_no_archive_work_anywhere(tmp_path):
    for args in (["config", "check"], ["witness", "keygen", "w.example/witness", "--out", "w.key"], ["--help"],
                 ["cameras", "--help"]):
        r = run(args, tmp_path, config=False)
        assert r.returncode == 0, (args, r.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.key"]


# -- missing files ---------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["cameras", "import", "nothere.yaml"], ["verify", "package", "nothere.zip"],
                                  ["verify", "nothere.zip"], ["witness", "add-cosignature", "c1", "1", "nothere"],
                                  ["witness", "cosign", "--key", "nothere", "--checkpoint", "nothere",
                                   "--log-key", "nothere"]], ids=" ".join)
def test_missing_file_is_exit_2_with_a_sentence(tmp_path, args):
    r = run(args, tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "nothere" in r.stderr and ("not found" in r.stderr or "no such file" in r.stderr), r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2, r.stderr
    _no_traceback(r)


# -- no such camera --------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["verify", "camera", "nosuch"], ["record", "--camera", "nosuch"],
                                  ["cameras", "disable", "nosuch"], ["cameras", "enable", "nosuch"],
                                  ["cameras", "remove", "nosuch"]], ids=" ".join)
def test_unknown_camera_is_no_such_camera_exit_2(tmp_path, args):
    r = run(args, tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "no such camera: nosuch" in r.stderr
    assert "FAIL" not in r.stdout + r.stderr
    _no_traceback(r)


# -- output piped into a reader that stops ---------------------------------------------------
@pytest.mark.parametrize("args", [["cameras", "list"], ["config", "check"], ["--help"]], ids=" ".join)
def test_closed_stdout_is_no_traceback(tmp_path, args):
    run(["init"], tmp_path)  # the archive exists: the command reaches its output
    cfg = tmp_path / "archive.toml"
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written (as 'head -1' after its line)
    try:
        p = subprocess.run([str(ARCHIVE), "--config", str(cfg), *args], stdout=write, stderr=subprocess.PIPE,
                           text=True, env=_env(), cwd=tmp_path, timeout=120)
    finally:
        os.close(write)
    assert p.returncode in (0, 141), (p.returncode, p.stderr)
    assert p.stderr == "", p.stderr


def test_cameras_list_into_head(tmp_path):
    run(["init"], tmp_path)
    cams = tmp_path / "cams.yaml"
    rows = ["owners:", "  - id: o", "    name: O", "    kind: private", "cameras:"]
    for i in range(1500):
        rows += [f"  - id: cam{i:04d}", f"    name: Camera {i}", "    owner: o",
                 f"    stream_url: rtsp://10.0.{i // 250}.{i % 250}/ch1", "    latitude: -7.4",
                 "    longitude: 112.4", f"    location: Street {i}"]
    cams.write_text("\n".join(rows) + "\n")
    imp = run(["cameras", "import", str(cams)], tmp_path)
    assert imp.returncode == 0, imp.stderr
    sh = subprocess.run(f"'{ARCHIVE}' --config archive.toml cameras list | head -1; exit ${{PIPESTATUS[0]}}",
                        shell=True, executable="/bin/bash", capture_output=True, text=True, env=_env(),
                        cwd=tmp_path, timeout=120)
    assert sh.returncode in (0, 141), (sh.returncode, sh.stderr)
    assert sh.stdout.startswith("cam0000"), sh.stdout
    assert sh.stderr == "", sh.stderr


# -- cameras on and off ----------------------------------------------------------------------
def test_cameras_disable_enable_remove_and_readd_only_with_force(tmp_path):
    cams = tmp_path / "cams.yaml"
    cams.write_text("owners:\n  - id: o\n    name: O\n    kind: private\ncameras:\n  - id: c1\n    name: C\n"
                    "    owner: o\n    stream_url: rtsp://10.0.0.1/ch1\n    latitude: 1\n    longitude: 100\n"
                    "    location: L\n")
    assert run(["cameras", "import", str(cams)], tmp_path).returncode == 0
    off = run(["cameras", "disable", "c1"], tmp_path)
    assert off.returncode == 0 and "camera c1: disabled" in off.stdout, off.stderr
    assert "(disabled)" in run(["cameras", "list"], tmp_path).stdout
    on = run(["cameras", "enable", "c1"], tmp_path)
    assert on.returncode == 0 and "camera c1: enabled" in on.stdout
    gone = run(["cameras", "remove", "c1"], tmp_path)
    assert gone.returncode == 0 and "camera c1: removed" in gone.stdout
    assert "(removed)" in run(["cameras", "list"], tmp_path).stdout
    back = run(["cameras", "enable", "c1"], tmp_path)
    assert back.returncode == 2 and "camera c1 was removed" in back.stderr
    again = run(["cameras", "import", str(cams)], tmp_path)
    assert again.returncode == 2 and "give --force" in again.stderr
    _no_traceback(again)
    forced = run(["cameras", "import", "--force", str(cams)], tmp_path)
    assert forced.returncode == 0 and "cameras: 0 created, 1 updated" in forced.stdout, forced.stderr
    listing = run(["cameras", "list"], tmp_path).stdout
    assert "(removed)" not in listing and "(disabled)" not in listing
