"""The API of ``archive up`` in its own child process, supervised by the recorder's process.

Whatever the API suffers - descriptor exhaustion by idle connections, a crash, an overload -
stays in its process: the recorder's descriptors, threads and loop are not shared with it, so
cameras keep recording. The child builds its own :class:`~archive.bootstrap.Runtime` from the
same configuration (``ARCHIVE_CONFIG``) and attaches to the embedded store the parent runs, as
``archive api serve`` workers do; the recorder's status reaches it through the status file the
parent publishes every 5 s (archive.cli.up). The parent restarts a child that exited; a child
whose parent is gone stops by itself.

Run as ``python -m archive.cli.api_child --parent PID [--ready-fd FD]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from archive.config import Config, load_config
from archive.errors import ERRORS, NotFoundError, NotRunningError, ToolError

if TYPE_CHECKING:
    from archive.recorder.status import RecorderStatus

log = logging.getLogger(__name__)

__all__ = ["ApiProcess", "main"]

RESTART_EVERY_S = 5.0
PARENT_CHECK_S = 1.0


class ApiProcess:
    """Starts, watches and stops the API child of ``archive up``."""

    def __init__(self, cfg: Config, out: TextIO) -> None:
        self._cfg, self._out = cfg, out
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self.restarts = 0

    def _spawn(self, ready_fd: int | None) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.pop("ARCHIVE_CONFIG", None)
        if self._cfg.source != "<defaults>":
            env["ARCHIVE_CONFIG"] = str(Path(self._cfg.source).resolve())
        if self._cfg.node.name:  # archive up --node NAME: the API's /health and /metrics speak for that node
            env["ARCHIVE_NODE_NAME"] = self._cfg.node.name
        argv = [sys.executable, "-m", "archive.cli.api_child", "--parent", str(os.getpid())]
        if ready_fd is not None:
            argv += ["--ready-fd", str(ready_fd)]
        self._started_at = time.monotonic()
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=self._out_fd(), stderr=None,
                                pass_fds=(ready_fd,) if ready_fd is not None else ())  # fmt: skip

    def _out_fd(self) -> int | None:
        try:
            return self._out.fileno()
        except (AttributeError, OSError, ValueError):  # e.g. a StringIO in tests: the parent's stdout
            return None

    def start(self, timeout: float = 60.0) -> None:
        """Start the child and wait until it listens. Raises ToolError when it does not."""
        read_fd, write_fd = os.pipe()
        try:
            self._proc = self._spawn(write_fd)
            os.close(write_fd)
            write_fd = -1
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                ready, _, _ = select.select([read_fd], [], [], 0.5)
                if ready and os.read(read_fd, 16).startswith(b"ready"):
                    return
                if self._proc.poll() is not None:
                    break
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self.stop()
        raise ToolError("the API server did not start (is the port in use? see the log above)")

    def supervise(self) -> None:
        """Restart the child if it exited (at most every ``RESTART_EVERY_S``). Never raises OSError."""
        proc = self._proc
        if proc is None or proc.poll() is None or time.monotonic() - self._started_at < RESTART_EVERY_S:
            return
        log.error("the API process exited (code %s): restarting it; recording continues", proc.returncode)
        try:
            self._proc = self._spawn(None)
            self.restarts += 1
        except OSError as exc:  # e.g. EMFILE, EAGAIN: try again at the next round
            log.error("the API process cannot be restarted now: %s", exc)

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the child to exit (SIGTERM), kill it after ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _exit_with_parent(parent: int) -> None:
    """SIGTERM ourselves (uvicorn shuts down gracefully) once ``parent`` is no longer our parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="api-parent-watch", daemon=True).start()


def _published_status(cfg: Config) -> Callable[[], RecorderStatus]:
    from archive.cli.up import read_status
    from archive.recorder.status import RecorderStatus, status_from_published

    def status() -> RecorderStatus:
        now = dt.datetime.now(dt.UTC)
        try:
            data = read_status(cfg)
            if data.get("stale"):
                return RecorderStatus(now, False, f"recorder status unknown: {data['age_seconds']} s old", ())
            return status_from_published(data)
        except NotFoundError as exc:
            return RecorderStatus(now, False, f"recorder status unknown: {exc}", ())
        except (KeyError, TypeError, ValueError) as exc:
            return RecorderStatus(now, False, f"recorder status unreadable: {exc}", ())

    return status


def _published_node(cfg: Config) -> Callable[[], dict[str, object]]:
    """The ``node`` part of the status file the service publishes (empty while none is published)."""
    from archive.cli.up import read_status

    def node() -> dict[str, object]:
        try:
            found = read_status(cfg).get("node")
        except NotRunningError:
            return {}
        return found if isinstance(found, dict) else {}

    return node


def _published_protections(cfg: Config) -> Callable[[], list[dict[str, object]]]:
    from archive.cli.up import read_status

    def protections() -> list[dict[str, object]]:
        try:
            found = read_status(cfg).get("protections")
        except NotRunningError:
            return []
        return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []

    return protections


def main(argv: list[str] | None = None) -> int:
    """Serve the API of the ``archive up`` whose pid is ``--parent``; returns the exit code."""
    from archive.api.app import create_app
    from archive.api.connections import ServerLimits, server_config
    from archive.api.serve import run_server
    from archive.api.wiring import build_deps
    from archive.bootstrap import Runtime
    from archive.web.mount import pages_of

    ap = argparse.ArgumentParser(prog="archive.cli.api_child")
    ap.add_argument("--parent", type=int, required=True)
    ap.add_argument("--ready-fd", type=int, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s api: %(message)s")
    _exit_with_parent(args.parent)
    ready_fd: int | None = args.ready_fd

    def ready() -> None:
        if ready_fd is not None:
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)

    try:
        cfg = load_config()
        with Runtime(cfg, export_builder=False) as rt:  # the parent builds exports (its runner polls)
            app = create_app(build_deps(rt, recorder_status=_published_status(cfg),
                                        protections=_published_protections(cfg), node_local=_published_node(cfg)),
                             pages=pages_of(rt))  # fmt: skip
            started = run_server(server_config(app, cfg.api.host, cfg.api.port, ServerLimits.of(cfg.api)), ready)
    except ERRORS as exc:
        print(f"error: API process: {exc}", file=sys.stderr)
        return 2
    return 0 if started else 1


if __name__ == "__main__":
    sys.exit(main())
