"""Whether other local users can read this service's process list (and so ffmpeg's argv).

ffmpeg takes an RTSP camera's credentials only inside the input URL, so a camera password is in
the recorder ffmpeg's argv, which ``/proc/<pid>/cmdline`` shows to every local user unless
``/proc`` is mounted with ``hidepid=invisible`` (or ``hidepid=2``), as systemd's
``ProtectProc=invisible`` does for one service (ops/archive.service). proc(5), "Mount options".
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

MOUNTINFO: Final = Path("/proc/self/mountinfo")
_HIDING: Final = frozenset({"hidepid=2", "hidepid=invisible"})


def proc_hides_other_users(mountinfo: str) -> bool:
    """True when the ``/proc`` mount in ``mountinfo`` (proc(5) ``/proc/pid/mountinfo`` format)
    hides other users' processes. Pure; a line it cannot parse counts as not hiding."""
    hidden = False
    for line in mountinfo.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or len(rest) < 3 or fields[4] != "/proc" or rest[0] != "proc":
            continue
        hidden = bool(_HIDING & set(rest[2].split(",")))  # the last /proc mount is the one in effect
    return hidden


def argv_exposed() -> bool:
    """True when other local users can read our processes' argv (``/proc`` without hidepid).
    An unreadable mountinfo counts as exposed (fail closed)."""
    try:
        return not proc_hides_other_users(MOUNTINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return True
