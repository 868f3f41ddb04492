"""Per-address limit of failed authentications (``[api] failed_auth_limit`` per
``failed_auth_window_seconds``): a guessing client is answered 429 without the identity store
being asked, and the audit trail gets one entry per burst instead of one per request.

State is in memory, per API process (each of several workers counts on its own), and bounded:
at most ``max_addresses`` addresses are tracked; beyond that the one seen longest ago is dropped.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Blocked", "FailedAuthThrottle"]


@dataclass(frozen=True)
class Blocked:
    """An address refused until ``retry_after_s`` from now; ``first``: this is the first refusal
    of the burst (the one that is audited); ``failures``: what started it."""

    retry_after_s: int
    first: bool
    failures: int


@dataclass
class _Address:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    refused: int = 0


class FailedAuthThrottle:
    """Counts failures per client address in a sliding window; thread-safe."""

    def __init__(self, limit: int, window_s: float, *, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._limit, self._window, self._max = limit, window_s, max_addresses
        self._clock = clock
        self._lock = threading.Lock()
        self._addresses: OrderedDict[str, _Address] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """False when ``limit`` is 0 (no limit)."""
        return self._limit > 0

    def check(self, ip: str) -> Blocked | None:
        """Whether ``ip`` is refused now (counts the refusal)."""
        if not self.enabled:
            return None
        with self._lock:
            entry = self._addresses.get(ip)
            now = self._clock()
            if entry is None or entry.blocked_until <= now:
                return None
            entry.refused += 1
            return Blocked(max(1, math.ceil(entry.blocked_until - now)), entry.refused == 1, len(entry.failures))

    def failed(self, ip: str) -> None:
        """Count one failed authentication from ``ip``; the ``limit``-th within the window blocks
        it for one window."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            entry = self._addresses.pop(ip, None) or _Address()
            self._addresses[ip] = entry  # most recently seen last
            while entry.failures and entry.failures[0] <= now - self._window:
                entry.failures.popleft()
            entry.failures.append(now)
            if len(entry.failures) >= self._limit:
                entry.blocked_until, entry.refused = now + self._window, 0
            while len(self._addresses) > self._max:
                self._addresses.popitem(last=False)
