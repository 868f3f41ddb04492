"""The scheduler jobs with real APScheduler 3 schedulers (background thread and asyncio)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler

from archive.retention.jobs import HOLD_JOB_ID, RUN_JOB_ID, RetentionJobs
from archive.retention.lock import JobLock
from archive.retention.service import LOCK_NAME
from tests.integration.retention_support import DAY, REnv, make_renv, starts, wait_until


@pytest.fixture
def renv(s3_store, tmp_path: Path):
    env = make_renv(f"sqlite:///{tmp_path / 'c.sqlite3'}", s3_store, tmp_path)
    yield env
    env.engine.dispose()


def test_background_scheduler_runs_retention_and_hold_sync(renv: REnv) -> None:
    lobby = renv.cam("lobby")
    now = renv.clock()
    renv.record(lobby, starts(now - 20 * DAY, 3), renv.upload_lock())
    wait_until(renv.clock() + timedelta(seconds=2))
    jobs = RetentionJobs(renv.service(interval_minutes=60, hold_sync_minutes=5))
    sched = BackgroundScheduler(timezone="UTC")
    jobs.add_to(sched, first_run_delay=timedelta(0))
    assert {j.id for j in sched.get_jobs()} == {RUN_JOB_ID, HOLD_JOB_ID}
    run_job = next(j for j in sched.get_jobs() if j.id == RUN_JOB_ID)
    assert run_job.trigger.interval == timedelta(minutes=60) and run_job.max_instances == 1 and run_job.coalesce
    sched.start()
    try:
        deadline = time.monotonic() + 30
        while (jobs.status().last_run is None or jobs.status().last_sync_at is None) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sched.shutdown(wait=True)
    st = jobs.status()
    assert st.last_run is not None and st.last_run["deleted"] == 3 and st.last_run_error is None
    assert st.last_sync_at is not None and st.last_sync_error is None
    assert renv.versions(lobby) == set()


def test_asyncio_scheduler_runs_the_job_off_the_event_loop(renv: REnv) -> None:
    jobs = RetentionJobs(renv.service())

    async def main() -> None:
        sched = AsyncIOScheduler(timezone="UTC")
        jobs.add_to(sched, first_run_delay=timedelta(0))
        sched.start()
        beats = 0
        deadline = time.monotonic() + 30
        while jobs.status().last_run is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # the loop keeps turning while the job runs in a thread
            beats += 1
        sched.shutdown(wait=False)
        assert beats >= 1

    asyncio.run(main())
    assert jobs.status().last_run is not None and jobs.status().last_run["status"] == "ok"


def test_a_second_process_skips_its_turn_quietly(renv: REnv, caplog) -> None:
    caplog.set_level(logging.INFO, logger="archive.retention.jobs")
    svc = renv.service()
    other = JobLock(renv.engine, LOCK_NAME, 300, now_us=svc.now_us, holder="elsewhere:7")
    assert other.acquire()
    jobs = RetentionJobs(svc)
    assert jobs.run() is None
    assert jobs.status().last_run_error is None and "skipped" in caplog.text
    other.release()
    assert jobs.run() is not None


def test_invalid_policies_fail_the_run_and_delete_nothing(renv: REnv) -> None:
    lobby = renv.cam("lobby")
    now = renv.clock()
    renv.record(lobby, starts(now - 20 * DAY, 2), renv.upload_lock())
    wait_until(renv.clock() + timedelta(seconds=2))
    (renv.policies / "sunrise-mall.toml").write_text(
        'owner = "sunrise-mall"\nkeep_days = -14\nexport_approval = "owner"\n')
    jobs = RetentionJobs(renv.service())
    assert jobs.run() is None
    err = jobs.status().last_run_error
    assert err is not None and "sunrise-mall.toml:2" in err
    assert len(renv.versions(lobby)) == 2
