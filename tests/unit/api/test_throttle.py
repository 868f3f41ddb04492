"""The failed-authentication limit per client address (archive.api.throttle), on a test clock."""

from archive.api.throttle import FailedAuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_blocks_for_one_window_and_marks_the_first_refusal_of_each_burst() -> None:
    clock = Clock()
    t = FailedAuthThrottle(3, 60, clock=clock)
    for _ in range(2):
        t.failed("198.51.100.7")
        assert t.check("198.51.100.7") is None
    t.failed("198.51.100.7")
    first, second = t.check("198.51.100.7"), t.check("198.51.100.7")
    assert first is not None and first.first and first.retry_after_s == 60 and first.failures == 3
    assert second is not None and not second.first
    assert t.check("198.51.100.8") is None  # another address is not affected
    clock.now += 59.5
    blocked = t.check("198.51.100.7")
    assert blocked is not None and blocked.retry_after_s == 1
    clock.now += 1
    assert t.check("198.51.100.7") is None  # the window has passed
    t.failed("198.51.100.7")  # the old failures have expired: one failure does not block again
    assert t.check("198.51.100.7") is None
    t.failed("198.51.100.7")
    t.failed("198.51.100.7")
    again = t.check("198.51.100.7")
    assert again is not None and again.first  # a new burst: audited again


def test_failures_spread_wider_than_the_window_never_block() -> None:
    clock = Clock()
    t = FailedAuthThrottle(3, 60, clock=clock)
    for _ in range(10):
        t.failed("198.51.100.7")
        clock.now += 31
        assert t.check("198.51.100.7") is None


def test_zero_turns_the_limit_off_and_tracked_addresses_are_bounded() -> None:
    off = FailedAuthThrottle(0, 60)
    for _ in range(100):
        off.failed("198.51.100.7")
    assert off.check("198.51.100.7") is None
    t = FailedAuthThrottle(1, 60, max_addresses=100)
    for i in range(1000):
        t.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(t._addresses) == 100
    assert t.check("10.0.0.0") is None  # dropped as the oldest
    assert t.check("10.0.3.231") is not None
