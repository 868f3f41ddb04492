"""Clock entries (SPEC.md 2.5): the host clock's synchronization state in every recorded log.

Segment times are the recorder's wall clock (SPEC.md 9.1); whether that clock was right is what
``clock`` entries record. :func:`read_host_clock` reads the kernel's NTP state with
``adjtimex(2)`` (read-only, ``modes = 0``, no privilege needed; whatever daemon disciplines the
clock, chrony, ntpd or systemd-timesyncd, sets it): ``synced`` is false when the kernel reports
``TIME_ERROR`` or ``STA_UNSYNC``, ``max_error_us`` is its maximum error, ``offset_us`` its last
PLL offset. :class:`ClockWriter` appends that state to the log of every camera this process
records: at start, at least every ``interval_s`` (10 minutes, SPEC.md 2.5) and whenever
``synced`` changes (checked every minute). An export then carries the latest clock entry before
its range (EXPORT-SPEC.md 7.2), so a drifting or unsynchronized recorder stays visible.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Final

from archive.errors import ArchiveError
from archive.integrity import Clock
from archive.ledger.service import Ledger
from archive.periodic import Periodic

__all__ = ["SOURCE", "ClockWriter", "read_host_clock"]

SOURCE: Final = "kernel adjtimex"
_TIME_ERROR: Final = 5
_STA_UNSYNC: Final = 0x0040
_STA_NANO: Final = 0x2000
_CHECK_S: Final = 60.0
log = logging.getLogger(__name__)


class _Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_int), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_reserved", ctypes.c_int * 11)]  # fmt: skip


def read_host_clock(now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> Clock | None:
    """The host clock's state now, from ``adjtimex(2)``; None where it cannot be read (not Linux,
    no libc). Never raises."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    offset = tx.offset // 1000 if tx.status & _STA_NANO else tx.offset
    synced = state != _TIME_ERROR and not tx.status & _STA_UNSYNC
    return Clock(at=now(), synced=synced, source=SOURCE, offset_us=int(offset), max_error_us=max(0, int(tx.maxerror)))


class ClockWriter:
    """Appends the host clock's state to the logs of ``cameras`` (module docstring): the camera
    ids, or a function giving the ones recorded now (a camera enabled later gets its first entry
    at the next check); started and stopped with the recorder. ``read``: the clock reader (tests
    pass another). A failed append is logged and retried at the next check, never raised."""

    def __init__(self, ledger: Ledger, cameras: Sequence[str] | Callable[[], Sequence[str]], *,
                 interval_s: float = 600.0, read: Callable[[], Clock | None] = read_host_clock,
                 check_s: float = _CHECK_S) -> None:  # fmt: skip
        self._cameras: Callable[[], Sequence[str]]
        if callable(cameras):
            self._cameras = cameras
        else:
            ids = list(cameras)
            self._cameras = lambda: ids
        self._ledger, self._interval, self._read = ledger, interval_s, read
        self._last: dict[str, Clock] = {}
        self._lock = threading.Lock()
        self._periodic = Periodic("clock-entries", check_s, self.run_once)

    def run_once(self) -> int:
        """Append a clock entry to each camera's log that is due (none yet, ``interval_s`` since
        the last, or ``synced`` changed); returns how many were appended. Never raises."""
        written = 0
        with self._lock:
            for cam in self._cameras():
                # read per log, just before its append: a segment logged after a clock entry cannot end
                # after the entry's time (SPEC.md 8 step 8 (b)), however many logs come before this one
                clock = self._read()
                if clock is None:
                    return written
                last = self._last.get(cam)
                due = (last is None or last.synced != clock.synced
                       or (clock.at - last.at).total_seconds() >= self._interval)  # fmt: skip
                if not due:
                    continue
                try:
                    self._ledger.append_clock(cam, clock)
                except ArchiveError as exc:
                    log.warning("camera %s: cannot log the host clock's state: %s", cam, exc)
                    continue
                self._last[cam] = clock
                written += 1
        return written

    def start(self) -> None:
        """Write the first entries now, then check every minute."""
        self.run_once()
        self._periodic.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop checking."""
        self._periodic.stop(timeout)
