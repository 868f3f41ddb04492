"""``archive up``: run the whole service in one process until SIGINT/SIGTERM.

Embedded (or configured) S3 store, catalog, evidence-log checkpointer, the retention and
legal-hold jobs (APScheduler), the export builder, the recorder for every enabled camera
and the API. With ``--demo``, or
when no camera is registered, simulated RTSP cameras are started on loopback and registered
under the owner ``demo`` so a newcomer sees recording happen.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TextIO

from archive.api.app import create_app
from archive.api.serve import BackgroundApi
from archive.api.wiring import build_deps
from archive.bootstrap import Runtime
from archive.config import Config
from archive.export.factory import exports_from_runtime
from archive.health import check_health
from archive.ledger.checkpoints import Checkpointer
from archive.model import Camera, Owner, OwnerKind
from archive.recorder.health import HealthLimits
from archive.recorder.notify import webhook_notifier
from archive.recorder.status import RecorderStatus
from archive.recorder.status_file import read_status_file, write_status_file
from archive.retention.jobs import RetentionJobs
from archive.scheduler import JobScheduler
from archive.sim.cameras import SimulatedCameraSet

log = logging.getLogger(__name__)

DEMO_OWNER = Owner("demo", "Simulated cameras (demo)", OwnerKind.GOVERNMENT, ("police",))
DEMO_PROFILES = ("h264", "h264-bframes", "h265", "h264-audio")
STATUS_EVERY_S = 30.0
STATUS_FILE_EVERY_S = 5.0


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _demo_cameras(rt: Runtime, sims: SimulatedCameraSet) -> list[Camera]:
    cams = [
        Camera(id=f"demo-{cam.name}", name=f"Simulated {profile} camera {cam.name}", owner_id=DEMO_OWNER.id,
               stream_url=cam.url, latitude=-7.4722 + i * 0.001, longitude=112.4338 + i * 0.001,
               location="Simulated camera on loopback", tags=("demo", profile))
        for i, (cam, profile) in enumerate(zip(sims, DEMO_PROFILES, strict=False))
    ]
    rt.registry.apply([DEMO_OWNER], [(c, None) for c in cams])
    return cams


def _print_status(status: RecorderStatus, out: TextIO) -> None:
    for cam in status.cameras:
        last = cam.last_segment_at.strftime("%H:%M:%S") if cam.last_segment_at else "-"
        print(f"  {cam.camera_id:<20} {cam.state:<13} last segment {last}  ingested {cam.segments_ingested}"
              f"  spool {cam.spool.bytes_used // 1024} KiB{'  ALARM' if cam.spool.alarm else ''}", file=out)
    store = "up" if status.store_available else f"DOWN ({status.store_error})"
    print(f"  store {store}", file=out)
    out.flush()


def status_file(cfg: Config) -> Path:
    """Where a running service publishes its recorder status for ``archive status``."""
    return cfg.data_dir / "run" / "status.json"


def read_status(cfg: Config) -> dict[str, object]:
    """The running service's last status. Raises NotRunningError when no service publishes one."""
    return read_status_file(status_file(cfg))


def run_service(cfg: Config, *, demo: bool, out: TextIO, only: str | None = None) -> int:
    """Run until interrupted; returns the exit code. Raises what the parts raise at start.

    ``only``: record just this camera (``archive record --camera ID``); NotFoundError if unknown.
    """
    with Runtime(cfg) as rt, _stop_on_signals() as stop, contextlib.ExitStack() as stack:
        report = check_health(rt)
        for c in report.checks:
            print(f"{'ok  ' if c.ok else 'FAIL'} {c.name:<22} {c.detail}", file=out)
        cameras = [rt.registry.camera(only)] if only else rt.registry.cameras(enabled_only=True)
        if only is None and (demo or not cameras):
            print("no cameras registered: starting simulated cameras" if not demo else "demo mode", file=out)
            sims = stack.enter_context(SimulatedCameraSet(len(DEMO_PROFILES), list(DEMO_PROFILES)))
            sims.start()
            cameras = _demo_cameras(rt, sims)
        ledger = rt.ledger
        checkpointer = Checkpointer(ledger.engine, ledger.signer, ledger.settings.checkpoint_interval_s)
        checkpointer.start()
        stack.callback(checkpointer.stop)
        scheduler = JobScheduler()
        RetentionJobs(rt.retention).add_to(scheduler)
        scheduler.start()
        stack.callback(scheduler.stop)
        exports = exports_from_runtime(rt)
        exports.runner.resume()
        exports.runner.start()
        stack.callback(exports.runner.stop)
        recorder = rt.recorder(cameras)
        recorder.start()
        stack.callback(recorder.stop)
        api = BackgroundApi(create_app(build_deps(rt, recorder_status=recorder.status, exports=exports.service)),
                            cfg.api.host, cfg.api.port)
        api.start()
        stack.callback(api.stop)
        print(f"API on http://{cfg.api.host}:{cfg.api.port} (OpenAPI at /schema)", file=out)
        print(f"recording {len(cameras)} cameras into {cfg.storage.media_bucket} "
              f"({cfg.storage.mode} store); Ctrl-C to stop", file=out)
        out.flush()
        publish, limits = status_file(cfg), HealthLimits.from_config(cfg.recorder)
        stack.callback(lambda: publish.unlink(missing_ok=True))
        last_print = time.monotonic()
        notifier = webhook_notifier(cfg.alerts)
        if notifier is not None:
            stack.callback(notifier.close)
        while not stop.wait(STATUS_FILE_EVERY_S):
            status = recorder.status()
            health = write_status_file(publish, status, limits)
            if notifier is not None:
                notifier.observe(health, status.taken_at)
            if time.monotonic() - last_print >= STATUS_EVERY_S:
                _print_status(status, out)
                last_print = time.monotonic()
        print("stopping: closing segments, draining the spool, signing final checkpoints", file=out)
    return 0
