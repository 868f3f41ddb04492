"""Periodic: a call that returned False is retried after ``retry_s``, not a whole interval later
(a heartbeat or lease renewal the catalog refused during its restart is tried again soon)."""

from __future__ import annotations

import threading
import time

from archive.periodic import Periodic


def _calls(retry_s: float | None, results: list[bool], within_s: float) -> list[float]:
    at: list[float] = []
    done = threading.Event()
    began = time.monotonic()

    def fn() -> bool:
        at.append(time.monotonic() - began)
        if len(at) >= len(results):
            done.set()
        return results[min(len(at), len(results)) - 1]

    p = Periodic("t", 0.6, fn, retry_s=retry_s)
    p.start()
    done.wait(within_s)
    p.stop()
    return at


def test_failed_calls_are_retried_soon_then_the_interval_resumes() -> None:
    at = _calls(0.05, [False, False, True, True], 3.0)
    assert len(at) == 4, at
    assert at[1] - at[0] < 0.3 and at[2] - at[1] < 0.3, at  # retried after 0.05 s, not 0.6 s
    assert at[3] - at[2] >= 0.55, at  # a success: the interval again


def test_without_retry_a_failed_call_waits_the_interval() -> None:
    at = _calls(None, [False, False], 3.0)
    assert len(at) == 2 and at[1] - at[0] >= 0.55, at
