"""Serving the API: one process, or several uvicorn workers (``api.workers``).

Each worker builds its own :class:`~archive.bootstrap.Runtime` from the configuration file
named by ``ARCHIVE_CONFIG`` (set by ``archive api serve``) and attaches to the embedded store
the parent started. Audit appends from several processes are safe: each append is a
compare-and-set on the log's stored size, retried on conflict. Only the first worker runs the
audit checkpointer: the one holding an exclusive lock on ``<data_dir>/api-checkpointer.lock``.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import TextIO

from litestar import Litestar

from archive.config import Config, load_config
from archive.errors import ToolError

__all__ = ["BackgroundApi", "serve", "worker_app"]

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


def worker_app() -> Litestar:
    """uvicorn factory of one worker process. Raises archive errors (the worker exits)."""
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
    return create_app(build_deps(rt, checkpoint_audit=lead))


def serve(cfg: Config, host: str, port: int, workers: int, out: TextIO) -> None:
    """Run the API until interrupted. Raises archive errors before serving."""
    import uvicorn

    from archive.api.app import create_app
    from archive.api.wiring import build_deps
    from archive.bootstrap import Runtime

    with Runtime(cfg, export_builder=workers == 1) as rt:
        rt.store.ping()  # starts (or attaches to) the embedded store before any worker
        print(f"archive API on http://{host}:{port} ({workers} process(es); OpenAPI at /schema)", file=out, flush=True)
        if workers == 1:
            runner = rt.exports.runner
            runner.resume()
            runner.start()
            try:
                uvicorn.run(create_app(build_deps(rt)), host=host, port=port, log_level="warning", access_log=False)
            finally:
                runner.stop()
            return
        if cfg.source != "<defaults>":
            os.environ["ARCHIVE_CONFIG"] = str(cfg.source)
        uvicorn.run("archive.api.serve:worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", access_log=False)  # fmt: skip


class BackgroundApi:
    """The API served by uvicorn on a thread of the calling process (for ``archive up``).

    uvicorn installs no signal handlers off the main thread; :meth:`stop` asks it to exit and joins.
    """

    def __init__(self, app: Litestar, host: str, port: int) -> None:
        import uvicorn

        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                     access_log=False))  # fmt: skip
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        """Start serving; raises ToolError if the server is not listening within ``timeout``."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ToolError("the API server did not start (is the port in use? see the log above)")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)
