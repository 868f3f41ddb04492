"""A background thread that calls one function every ``interval`` seconds until stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """Calls ``fn`` every ``interval_s`` seconds on a daemon thread; ``fn`` must not raise. With
    ``retry_s``, a call that returned False is followed by the next one ``retry_s`` seconds later
    (e.g. a lease renewal that could not reach the database: tried again soon, not a period later)."""

    def __init__(self, name: str, interval_s: float, fn: Callable[[], object], retry_s: float | None = None) -> None:
        self._name, self._interval, self._fn, self._retry = name, interval_s, fn, retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        wait = self._interval
        while not self._stop.wait(wait):
            failed = self._fn() is False and self._retry is not None
            wait = min(self._interval, self._retry) if failed and self._retry is not None else self._interval

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, waiting up to ``timeout`` seconds for a running call to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
