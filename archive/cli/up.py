"""``archive up`` / ``record`` / ``status``: run the whole service until SIGINT/SIGTERM.

Embedded (or configured) S3 store, catalog, evidence-log checkpointer, the retention and
legal-hold jobs (APScheduler), the export builder, the recorder for every enabled camera,
and the API in a supervised child process (archive.cli.api_child). With ``--demo``, or
when no camera is registered, simulated RTSP cameras are started on loopback and registered
under the owner ``demo`` (tag ``demo``) so a newcomer sees recording happen. While it runs, ``up`` follows the
registry (:mod:`archive.cli.follow`): disabling, enabling or removing a camera applies within
seconds. Demo cameras are never recorded by a later run at their old addresses (the simulators ended with their run): a
later run that starts simulators gives them the new addresses and removes the other ones (a
second ``./ops/up.sh`` records again); one that records real cameras skips them with a hint.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import resource
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from archive.cli.common import runtime
from archive.config import Config
from archive.errors import ConfigError, ConflictError
from archive.fsmodes import secure_process
from archive.model import Camera, Owner, OwnerKind, unrecorded_scheme
from archive.node_config import check_node_name
from archive.recorder.status_file import STATUS_PATH, read_status_file, report, status_json, write_status_file

if TYPE_CHECKING:  # the service's heavy parts are imported when it runs: `archive --help` stays fast
    from archive.bootstrap import Runtime
    from archive.recorder.health import HealthLimits, RecorderHealth
    from archive.recorder.service import Recorder
    from archive.recorder.status import RecorderStatus
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


def is_demo(camera: Camera) -> bool:
    """A simulated camera ``up`` registered (owner ``demo``, tag ``demo``): its simulator lived only
    as long as the run that started it."""
    return camera.owner_id == DEMO_OWNER.id


def _demo_cameras(rt: Runtime, sims: SimulatedCameraSet, stale: list[Camera]) -> list[Camera]:
    """Register this run's simulated cameras (an earlier run's demo cameras of the same id get the
    new addresses) and take the earlier run's other demo cameras out of service (nothing deleted)."""
    cams = [
        Camera(id=f"demo-{cam.name}", name=f"Simulated {profile} camera {cam.name}", owner_id=DEMO_OWNER.id,
               stream_url=cam.url, latitude=-7.4722 + i * 0.001, longitude=112.4338 + i * 0.001,
               location="Simulated camera on loopback", tags=("demo", profile))
        for i, (cam, profile) in enumerate(zip(sims, DEMO_PROFILES, strict=False))
    ]
    rt.registry.apply([DEMO_OWNER], [(c, None) for c in cams])
    for old in stale:
        if old.id not in {c.id for c in cams}:
            rt.registry.remove(old.id)
    return cams


def _print_status(status: RecorderStatus, out: TextIO) -> None:
    for cam in status.cameras:
        last = cam.last_segment_at.strftime("%H:%M:%S") if cam.last_segment_at else "-"
        offset = cam.ingest.camera_clock_offset_s
        clock = "" if offset is None else f"  camera clock {offset:+.3f} s"
        print(f"  {cam.camera_id:<20} {cam.state:<13} last segment {last}  ingested {cam.segments_ingested}"
              f"  spool {cam.spool.bytes_used // 1024} KiB{clock}{'  ALARM' if cam.spool.alarm else ''}", file=out)
    store = "up" if status.store_available else f"DOWN ({status.store_error})"
    print(f"  store {store}", file=out)
    out.flush()


def status_file(cfg: Config) -> Path:
    """Where a running service publishes its recorder status for ``archive status``."""
    return cfg.data_dir / STATUS_PATH


def read_status(cfg: Config) -> dict[str, object]:
    """The running service's last status. Raises NotRunningError when no service publishes one."""
    return read_status_file(status_file(cfg))


def _raise_descriptor_limit() -> None:
    """Raise this process's descriptor soft limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _node_status(rt: Runtime, recording: set[str]) -> dict[str, object] | None:
    """This node and the others as the catalog shows them (None when this process is not a node), its
    fenced cameras and the spool files it keeps of cameras it does not record (``recording``)."""
    from archive.errors import ERRORS
    from archive.ledger.node_report import node_report
    from archive.recorder.leftover import leftover_spool

    member = rt.node
    if member is None:
        return None
    left = [s.as_json() for s in leftover_spool(rt.config.spool_dir, recording)]
    out: dict[str, object] = {"name": member.name, "state": member.state, "holder": member.holder,
                              "lease_ttl_s": member.config.lease_ttl_s, "fenced": rt.writer_claims.lost(),
                              "leftover_spool": left}  # fmt: skip
    try:
        rep = node_report(rt.engine)
    except ERRORS as exc:
        return {**out, "problems": [f"node {member.name} cannot read the recorder nodes: {exc}"]}
    return {**out, "nodes": [n.as_json() for n in rep.nodes], "lease_takeovers": rep.takeovers,
            "problems": rep.problems()}  # fmt: skip


def _publish(path: Path, recorder: Recorder, limits: HealthLimits, skipped: dict[str, str],
             protections: Sequence[Mapping[str, object]] = (), rt: Runtime | None = None,
             ) -> tuple[RecorderStatus | None, RecorderHealth | None]:  # fmt: skip
    """Take and publish the recorder's status (and the health it holds); an OSError (e.g. EMFILE, a
    full disk) is logged, never raised: publishing status must not end the service."""
    try:
        status = recorder.status()
        node = None if rt is None else _node_status(rt, {c.camera_id for c in status.cameras})
        health = write_status_file(path, status, limits, skipped, protections, node)
    except OSError as exc:
        log.error("recorder status not published: %s", exc)
        return None, None
    return status, health


def run_service(cfg: Config, *, demo: bool, out: TextIO, only: str | None = None) -> int:
    """Run until interrupted; returns the exit code. Raises what the parts raise at start.

    ``only``: record just this camera (``archive record --camera ID``); NotFoundError if unknown.
    """
    from archive.cli.api_child import ApiProcess
    from archive.cli.follow import RegistryFollower
    from archive.health import PROTECTIONS, check_health, refusals
    from archive.ledger.clock_entries import ClockWriter
    from archive.recorder.health import HealthLimits
    from archive.recorder.notify import webhook_notifier
    from archive.sim.cameras import SimulatedCameraSet

    secure_process(cfg.data_dir, cfg.catalog_url)  # umask 077, data dir 0700 (archive.fsmodes)
    _raise_descriptor_limit()
    with runtime(cfg, export_builder=True) as rt, _stop_on_signals() as stop, contextlib.ExitStack() as stack:
        member = None if only else rt.node
        if member is not None:  # a node: its cameras are claimed by the follower as the nodes decide
            member.register()
            stack.callback(member.stop)  # after the claims are released (the stack unwinds in reverse)
            member.start()
            print(f"node {member.name} (capacity {member.config.capacity:g}, lease {member.config.lease_ttl_s:g} s): "
                  f"{len(member.placement())} live nodes", file=out)  # fmt: skip
        cameras = [rt.registry.camera(only)] if only else rt.registry.cameras(enabled_only=True)
        # an earlier run's demo cameras point at simulators that ended with it: replaced below, never recorded
        stale = [] if only else [c for c in cameras if is_demo(c)]
        cameras = [c for c in cameras if c not in stale]
        unrecorded = {c.id: why for c in cameras if (why := unrecorded_scheme(c.stream_url)) is not None}
        if only is not None and unrecorded:
            raise ConflictError(f"camera {only} is not recorded: {unrecorded[only]}")
        cameras = [c for c in cameras if c.id not in unrecorded]  # an earlier version's http(s) camera
        # one writer per camera: claim before the store, the spool or ffmpeg is touched; released last
        stack.callback(rt.writer_claims.release_all)
        if member is not None:
            cameras = []  # the follower's first look claims this node's share
        claimed, skipped = rt.writer_claims.claim_for_recording([c.id for c in cameras], refuse=only is not None)
        skipped.update(unrecorded)
        for camera_id, why in skipped.items():
            print(f"SKIP {camera_id}: {why}", file=out)
        cameras = [c for c in cameras if c.id in claimed]
        demo_only = False
        report = check_health(rt)
        for c in report.checks:
            print(f"{'ok  ' if c.ok else 'FAIL'} {c.name:<22} {c.detail}", file=out)
        for sentence in refusals(report):  # a protection that is off and not accepted: do not run
            raise ConflictError(f"refusing to start: {sentence}")
        protections = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks if c.name in PROTECTIONS]
        if only is None and member is None and (demo or not cameras) and not skipped:
            print("no cameras registered: starting simulated cameras" if not demo else "demo mode", file=out)
            if stale:
                print(f"replacing the {len(stale)} demo cameras of an earlier run (their simulators ended "
                      "with it) by this run's", file=out)  # fmt: skip
            sims = stack.enter_context(SimulatedCameraSet(len(DEMO_PROFILES), list(DEMO_PROFILES)))
            sims.start()
            cameras = _demo_cameras(rt, sims, stale)
            demo_only = True  # a demo run records its simulated cameras only, also when others are enabled later
            claimed, more = rt.writer_claims.claim_for_recording([c.id for c in cameras], refuse=False)
            skipped.update(more)
            cameras = [c for c in cameras if c.id in claimed]
        elif stale:
            print(f"SKIP {', '.join(c.id for c in stale)}: demo cameras of an earlier run (their simulators "
                  "ended with it); 'archive up --demo' records new simulated cameras", file=out)  # fmt: skip
        rt.writer_claims.start_renewing()
        checkpointer = rt.checkpointer
        checkpointer.start()
        stack.callback(checkpointer.stop)
        scheduler = rt.scheduler
        scheduler.start()
        stack.callback(scheduler.stop)
        exports = rt.exports
        exports.runner.resume()
        exports.runner.start()
        stack.callback(exports.runner.stop)
        recorder = rt.recorder(cameras)
        recorder.start()
        stack.callback(recorder.stop)
        # SPEC.md 2.5: the host clock's state in the log of each camera recorded now (also one enabled later)
        clocks = ClockWriter(rt.ledger, lambda: [c.camera_id for c in recorder.status().cameras])
        clocks.start()
        stack.callback(clocks.stop)
        publish, limits = status_file(cfg), HealthLimits.from_config(cfg.recorder)
        stack.callback(lambda: publish.unlink(missing_ok=True))
        # the API process reads it at once
        _publish(publish, recorder, limits, skipped | rt.writer_claims.lost(), protections, rt)
        api = ApiProcess(cfg, out)  # the API in its own process: what it suffers never stops a camera
        stack.callback(api.stop)
        api.start()
        print(f"API on http://{cfg.api.host}:{cfg.api.port} (OpenAPI at /schema)", file=out)
        print(f"recording {len(cameras)} cameras into {cfg.storage.media_bucket} "
              f"({cfg.storage.mode} store); Ctrl-C to stop", file=out)
        out.flush()
        last_print = next_status = time.monotonic()
        notifier = webhook_notifier(cfg.alerts)
        if notifier is not None:
            stack.callback(notifier.close)
        stale_ids = {c.id for c in stale} - {c.id for c in cameras}  # not replaced by this run's simulators
        def skip(c: Camera) -> bool:
            return (c.id in stale_ids or (demo_only and not is_demo(c))
                    or unrecorded_scheme(c.stream_url) is not None)  # an http(s) camera: reported, never recorded

        # `record --camera` records one camera: it follows nothing
        if not only:  # disable/enable/remove apply within FOLLOW_EVERY_S (+ ffmpeg's stop), off this loop
            follower = RegistryFollower(rt, recorder, {c.id for c in cameras}, out, skip=skip, member=member)
            stack.callback(follower.stop)  # before the recorder stops (the stack unwinds in reverse)
            follower.start()
        while not stop.wait(1.0):
            if time.monotonic() < next_status:
                continue
            next_status = time.monotonic() + STATUS_FILE_EVERY_S
            status, health = _publish(publish, recorder, limits, skipped | rt.writer_claims.lost(), protections, rt)
            api.supervise()
            if status is not None and health is not None and notifier is not None:
                notifier.observe(health, status.taken_at)
            if status is not None and time.monotonic() - last_print >= STATUS_EVERY_S:
                with contextlib.suppress(OSError):
                    _print_status(status, out)
                last_print = time.monotonic()
        print("stopping: closing segments, draining the spool, signing final checkpoints", file=out)
    return 0


def _cmd_up(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    if args.node is not None:
        cfg = dataclasses.replace(cfg, node=dataclasses.replace(cfg.node, name=check_node_name(args.node, "--node")))
    if cfg.node.name and args.demo:
        raise ConfigError("--demo starts simulated cameras of one process: it cannot run as a node")
    code: int = run_service(cfg, demo=args.demo, out=out)
    return code


def _cmd_record(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    code: int = run_service(cfg, demo=False, out=out, only=args.camera)
    return code


def _cmd_status(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.cli.witness import witness_status

    data = read_status(cfg)
    witnesses, wlines, wbad = witness_status(cfg)
    if args.json:
        doc, code = status_json(data)
        if witnesses:
            doc["witnesses"] = witnesses
        json.dump(doc, out, indent=2)
        print(file=out)
        return max(code, int(wbad))
    lines, code = report(data)
    print("\n".join(lines + wlines), file=out)
    return max(code, int(wbad))


def register(sub: Any) -> None:
    """Add ``up``, ``record`` and ``status`` to the ``archive`` parser's subcommands."""
    up = sub.add_parser("up", help="run the service: store, catalog, recorder (simulated cameras with --demo)")
    up.add_argument("--demo", action="store_true", help="start simulated cameras and record them")
    up.add_argument("--node", metavar="NAME", help="run as recorder node NAME (overrides [node] name): record the "
                    "cameras the live nodes assign to it, take over those of a dead node")
    up.set_defaults(handler=_cmd_up)

    record = sub.add_parser("record", help="record one camera in the foreground until interrupted")
    record.add_argument("--camera", required=True, help="camera id")
    record.set_defaults(handler=_cmd_record)

    status = sub.add_parser("status", help="per-camera recorder status of the running service (exit 1 if unwell)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_cmd_status)
