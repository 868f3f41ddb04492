"""Reading /proc's mount options (proc(5) mountinfo format)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.procinfo import argv_exposed, proc_hides_other_users

PLAIN = "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
HIDDEN = "22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw,hidepid=invisible\n"
HIDDEN_NUMERIC = "22 27 0:21 / /proc rw,relatime shared:12 - proc proc rw,hidepid=2,gid=4\n"
PTRACEABLE = "22 27 0:21 / /proc rw,relatime - proc proc rw,hidepid=ptraceable\n"
OTHER = "30 27 0:25 / /sys rw,relatime - sysfs sysfs rw,hidepid=invisible\n"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        (PLAIN, False),
        (HIDDEN, True),
        (HIDDEN_NUMERIC, True),
        (PTRACEABLE, False),  # other users' processes stay visible
        (OTHER + PLAIN, False),  # hidepid on a non-proc mount does not count
        (HIDDEN + PLAIN, False),  # the last mount over /proc is the one in effect
        (PLAIN + HIDDEN, True),  # e.g. systemd ProtectProc=invisible mounts a new /proc on top
        ("garbage without separator\n", False),
        ("", False),
    ],
)
def test_proc_hides_other_users(text: str, hidden: bool) -> None:
    assert proc_hides_other_users(text) is hidden


def test_unreadable_mountinfo_counts_as_exposed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("archive.procinfo.MOUNTINFO", tmp_path / "missing")
    assert argv_exposed() is True
    (tmp_path / "mi").write_text(HIDDEN)
    monkeypatch.setattr("archive.procinfo.MOUNTINFO", tmp_path / "mi")
    assert argv_exposed() is False
