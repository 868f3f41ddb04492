"""The one adapter over APScheduler: a background scheduler for the service's periodic jobs."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from archive.errors import ToolError


class JobScheduler:
    """Runs periodic jobs on a thread pool until :meth:`stop`. Jobs are added with ``add_job``."""

    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"max_instances": 1, "coalesce": True})

    def add_job(self, *args: object, **kwargs: object) -> None:
        """Same arguments as APScheduler 3's ``add_job``."""
        self._scheduler.add_job(*args, **kwargs)

    def start(self) -> None:
        """Start running jobs. Raises ToolError if the scheduler cannot start."""
        try:
            self._scheduler.start()
        except Exception as exc:  # apscheduler raises its own SchedulerAlreadyRunningError etc.
            raise ToolError(f"job scheduler failed to start: {exc}") from exc

    def stop(self) -> None:
        """Stop, waiting for running jobs to finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
