"""Serving the API: one process, or several uvicorn workers (``api.workers``), always with the
connection limits of :mod:`archive.api.connections` and without uvicorn's proxy headers.

Each worker builds its own :class:`~archive.bootstrap.Runtime` from the configuration file
named by ``ARCHIVE_CONFIG`` (set by ``archive api serve``) and attaches to the embedded store
the parent started. Audit appends from several processes are safe: each append is a
compare-and-set on the log's stored size, retried on conflict. Only the first worker runs the
audit checkpointer: the one holding an exclusive lock on ``<data_dir>/api-checkpointer.lock``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from litestar import Litestar

from archive.api.app import PageFactory
from archive.api.connections import ServerConfig, ServerLimits, server_config
from archive.config import Config, load_config
from archive.errors import ToolError

if TYPE_CHECKING:
    from archive.bootstrap import Runtime

__all__ = ["run_server", "serve", "worker_app"]

_HELD: list[int] = []


def _lead(cfg: Config) -> bool:
    """True for the one process that gets the checkpointer lock (kept until it exits)."""
    import fcntl

    path = cfg.data_dir / "api-checkpointer.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _HELD.append(fd)
    return True


def worker_app(pages: Callable[[Runtime], PageFactory] | None = None) -> Litestar:
    """uvicorn factory of one worker process (``pages``: the browser pages of its runtime, if any).
    Raises archive errors (the worker exits)."""
    from archive.api.app import create_app
    from archive.api.wiring import build_deps
    from archive.bootstrap import Runtime

    cfg = load_config()
    lead = _lead(cfg)  # one export builder per service, in the worker that also signs audit checkpoints
    rt = Runtime(cfg, export_builder=lead)
    atexit.register(rt.close)
    if lead:
        rt.exports.runner.resume()
        rt.exports.runner.start()
        atexit.register(rt.exports.runner.stop)
    return create_app(build_deps(rt, checkpoint_audit=lead), pages=pages(rt) if pages else None)


def run_server(config: ServerConfig, ready: Callable[[], None] | None = None) -> bool:
    """Serve ``config`` until SIGINT/SIGTERM (uvicorn's handlers, main thread); with several
    workers, uvicorn's supervisor runs them on one bound socket. ``ready`` is called once the
    single server listens. Returns False when the server did not start (e.g. port in use)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    server = uvicorn.Server(config)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return True
    if ready is not None:
        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                ready()

        threading.Thread(target=announce, name="api-ready", daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return server.started


def serve(cfg: Config, host: str, port: int, workers: int, out: TextIO, *,
          pages: Callable[[Runtime], PageFactory] | None = None,
          worker_factory: str = "archive.api.serve:worker_app") -> None:  # fmt: skip
    """Run the API until interrupted (``pages``: browser pages of the runtime; with several workers,
    ``worker_factory`` names the uvicorn factory that builds them). Raises archive errors before
    serving, ToolError when the server cannot listen."""
    from archive.api.app import create_app
    from archive.api.wiring import build_deps
    from archive.bootstrap import Runtime

    limits = ServerLimits.of(cfg.api)
    with Runtime(cfg, export_builder=workers == 1) as rt:
        rt.store.ping()  # starts (or attaches to) the embedded store before any worker
        print(f"archive API on http://{host}:{port} ({workers} process(es); OpenAPI at /schema)", file=out, flush=True)
        if workers == 1:
            runner = rt.exports.runner
            runner.resume()
            runner.start()
            try:
                app = create_app(build_deps(rt), pages=pages(rt) if pages else None)
                started = run_server(server_config(app, host, port, limits))
            finally:
                runner.stop()
            if not started:
                raise ToolError(f"the API server did not start on {host}:{port} (is the port in use?)")
            return
        if cfg.source != "<defaults>":
            os.environ["ARCHIVE_CONFIG"] = str(cfg.source)
        run_server(server_config(worker_factory, host, port, limits, workers=workers, factory=True))
