"""Stopping a simulated camera server together with everything it started (its process group).

Both simulators (:class:`archive.sim.cameras.SimCamera`, one server per camera, and
:class:`archive.sim.bulk.BulkCameraSet`, one server for many) start their server with
``start_new_session=True`` and its ffmpeg feeders inherit that group, so signals go to the group
and nothing is left behind even when the server itself crashed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


class ProcessGroupOwner:
    """Mixin: ``self._proc`` is a group leader; stop, kill and close the whole group.

    Subclasses set ``_proc`` and may override :meth:`_forget` (called once the group is gone).
    """

    _proc: subprocess.Popen[bytes] | None

    def _stop_group(self, timeout: float) -> None:
        """SIGTERM the group (after SIGCONT, in case it was frozen), SIGKILL after ``timeout`` s."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal_group(signal.SIGCONT)
            self._signal_group(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                return
        self._close(proc)

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self._close(proc)

    def _close(self, proc: subprocess.Popen[bytes]) -> None:
        # Feeders share the server's process group: make sure none is left even if the server crashed.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._proc = None
        self._forget()

    def _forget(self) -> None:
        """Drop what belonged to the stopped group (overridden)."""

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)
