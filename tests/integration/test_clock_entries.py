"""Clock entries in the logs the recorder writes (SPEC.md 2.5): the host clock's state read from
the kernel (adjtimex) and appended at start, every interval and when ``synced`` changes, to the
logs of the cameras this process records; the catalog is real SQLite, the log real SeaweedFS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.integrity import Clock, Entry
from archive.ledger import repo
from archive.ledger.clock_entries import SOURCE, ClockWriter, read_host_clock
from tests.integration.ledger_support import Env, make_env


@pytest.fixture
def env(s3_store, tmp_path: Path) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    e = make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path)
    yield e
    e.engine.dispose()


def _clocks(env: Env, camera: str) -> list[Clock]:
    with env.engine.connect() as conn:
        rows = list(repo.iter_entries(conn, env.ledger.log_id(camera)))
    out = [Entry.decode(r.data).payload for r in rows]
    return [p for p in out if isinstance(p, Clock)]


def test_the_kernel_clock_state_is_read() -> None:
    c = read_host_clock()
    assert c is not None and c.source == SOURCE and isinstance(c.synced, bool)
    assert c.max_error_us is not None and c.max_error_us >= 0
    assert abs((dt.datetime.now(dt.UTC) - c.at).total_seconds()) < 5


def test_clock_entries_at_start_every_interval_and_when_sync_changes(env: Env) -> None:
    t0 = dt.datetime(2025, 3, 14, 2, 0, tzinfo=dt.UTC)
    now = [t0]
    synced = [True]

    def read() -> Clock:
        return Clock(at=now[0], synced=synced[0], source=SOURCE, offset_us=-40, max_error_us=1500)

    w = ClockWriter(env.ledger, ["cam-a", "cam-b"], interval_s=600, read=read)
    assert w.run_once() == 2  # at start: one in each recorded camera's log
    now[0] = t0 + dt.timedelta(seconds=60)
    assert w.run_once() == 0  # nothing changed, not due
    synced[0] = False
    now[0] = t0 + dt.timedelta(seconds=120)
    assert w.run_once() == 2  # the clock lost its synchronization: logged at once
    synced[0] = False
    now[0] = t0 + dt.timedelta(seconds=720)
    assert w.run_once() == 2  # 10 minutes since the last
    got = _clocks(env, "cam-a")
    assert [(c.at - t0).total_seconds() for c in got] == [0, 120, 720]
    assert [c.synced for c in got] == [True, False, False] and got[0].max_error_us == 1500
    assert _clocks(env, "cam-b") == got


def test_real_reader_writes_a_real_entry(env: Env) -> None:
    w = ClockWriter(env.ledger, ["cam-a"])
    w.start()
    w.stop()
    (c,) = _clocks(env, "cam-a")
    assert c.source == SOURCE


def test_a_camera_recorded_later_gets_its_entry_at_the_next_check(env: Env) -> None:
    recorded = ["cam-a"]
    w = ClockWriter(env.ledger, lambda: list(recorded))
    assert w.run_once() == 1
    recorded.append("cam-b")  # enabled while the service runs
    assert w.run_once() == 1 and len(_clocks(env, "cam-b")) == 1 and len(_clocks(env, "cam-a")) == 1
