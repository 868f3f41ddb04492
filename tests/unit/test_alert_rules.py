"""ops/alerts.yml is valid Prometheus and its unit tests (ops/alerts.test.yml) pass, with promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

OPS = Path(__file__).parents[2] / "ops"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool was not found; run ops/install-debian-packages.sh as root (Debian package prometheus)")
    return path


def test_alert_rules_check() -> None:
    result = subprocess.run([promtool(), "check", "rules", "alerts.yml"], cwd=OPS, capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_alert_rules_fire_when_they_should() -> None:
    result = subprocess.run([promtool(), "test", "rules", "alerts.test.yml"], cwd=OPS, capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
