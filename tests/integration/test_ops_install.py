"""ops/install.sh (issue 16 item 5) in a temporary prefix, as a non-system install: the folders the
systemd units expect (mode 0700), configuration templates (0600) that `archive config check` accepts
with the store keys of the SeaweedFS identities it made, the unit files; kept on a second run;
``--dry-run`` changes nothing; bad input exits 2 with a sentence."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "ops" / "install.sh"
ARCHIVE = Path(sys.executable).parent / "archive"
UNITS = ("archive-node@.service", "archive-api.service", "seaweedfs-master.service", "seaweedfs-volume@.service",
         "seaweedfs-filer.service", "seaweedfs-s3.service")  # fmt: skip


def install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False)


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {k: v for k, v in pairs}


def test_install_in_a_prefix_makes_what_the_units_expect(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = install("--prefix", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no users created" in done.stdout
    for d in ("etc/archive", "var/lib/archive", "var/lib/archive/spool", "etc/seaweedfs", "var/lib/seaweedfs/master",
              "var/lib/seaweedfs/filer", "var/lib/seaweedfs/volume-r1", "var/lib/seaweedfs/volume-r3"):  # fmt: skip
        assert (root / d).stat().st_mode & 0o777 == 0o700, d
    for f in ("etc/archive/archive.toml", "etc/archive/archive.env", "etc/seaweedfs/cluster.env",
              "etc/seaweedfs/security.toml", "etc/seaweedfs/s3.json", "etc/seaweedfs/node.key"):  # fmt: skip
        assert (root / f).stat().st_mode & 0o777 == 0o600, f
    for unit in UNITS:
        text = (root / "etc/systemd/system" / unit).read_text()
        assert "UMask=0077" in text and "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text, unit
        for rw in re.findall(r"^ReadWritePaths=(\S+)$", text, re.M):  # each folder a unit writes, install made
            assert (root / rw.lstrip("/").replace("%i", "r2")).is_dir(), (unit, rw)
    env = _env_file(root / "etc/archive/archive.env")
    assert env["ARCHIVE_STORAGE_ACCESS_KEY"].startswith("AK") and len(env["ARCHIVE_STORAGE_SECRET_KEY"]) > 20
    assert env["ARCHIVE_STORAGE_SECRET_KEY"] not in done.stdout + done.stderr
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    checked = subprocess.run([str(ARCHIVE), "--config", str(root / "etc/archive/archive.toml"), "config", "check"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
                             env={**clean, **env})  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f'data_dir = "{root}/var/lib/archive"' in (root / "etc/archive/archive.toml").read_text()

    toml = root / "etc/archive/archive.toml"
    toml.write_text(toml.read_text() + "# edited by the operator\n")
    key = (root / "etc/seaweedfs/node.key").read_bytes()
    again = install("--prefix", str(root))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "# edited by the operator" in toml.read_text()  # kept, never overwritten
    assert (root / "etc/seaweedfs/node.key").read_bytes() == key


def test_dry_run_changes_nothing_and_bad_input_exits_2(tmp_path: Path) -> None:
    root = tmp_path / "dry"
    done = install("--prefix", str(root), "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "install -d -m 0700" in done.stdout and "dry run: nothing changed" in done.stdout
    assert not root.exists()
    for args, said in ((("--bogus",), "unknown option --bogus"), (("--prefix", "rel/dir"), "absolute path"),
                       (("--prefix",), "needs a directory")):  # fmt: skip
        bad = install(*args)
        assert bad.returncode == 2 and said in bad.stderr and bad.stderr.count("\n") == 1, (args, bad.stderr)


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd's own parser finds nothing wrong in the units but the absent /opt/archive (not installed
    on a test machine): an unknown key or a bad value would be reported here."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (package systemd) is needed to check the units"
    for unit in UNITS:
        name = unit.replace("@.", "@r1.")  # an instance of a template unit
        shutil.copy(REPO / "ops" / unit, tmp_path / name)
        done = subprocess.run([analyze, "verify", "--man=no", str(tmp_path / name)], capture_output=True, text=True,
                              timeout=60, check=False, env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})  # fmt: skip
        said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        unexpected = [line for line in said if "/opt/archive/.venv/bin/" not in line or "is not executable" not in line]
        assert not unexpected, (unit, said)


def test_compose_file_names_the_tested_cluster_layout() -> None:
    """ops/compose.yaml cannot run here (no Docker): at least it parses, has PostgreSQL, the SeaweedFS
    master (010) with a volume server per rack, filer, S3 gateway, two nodes, and says it is untested."""
    text = (REPO / "ops" / "compose.yaml").read_text()
    assert "UNTESTED" in text.split("\n\n", 1)[0]
    services = yaml.safe_load(text)["services"]
    assert {"postgres", "seaweed-master", "seaweed-filer", "seaweed-s3", "node-a", "node-b"} <= set(services)
    assert "-defaultReplication=010" in services["seaweed-master"]["command"]
    for rack in ("r1", "r2", "r3"):
        assert f"-rack={rack}" in services[f"seaweed-volume-{rack}"]["command"]
    assert "-autoCreateBucket=false" in services["seaweed-s3"]["command"]
