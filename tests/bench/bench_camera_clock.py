"""Benchmark: what reading the camera's clock (RTCP sender reports, SPEC.md 2.2 ``camera_start``) costs
per camera, against today's argv, side by side.

Run: ``.venv/bin/python tests/bench/bench_camera_clock.py [--cameras N] [--seconds S]``

N simulated GStreamer cameras (720p 2 Mbit/s H.264 over RTSP/TCP; they send sender reports) are
each recorded twice at the same time for S seconds after a 15 s warm-up, so load affects both alike:

- ``today``: :func:`archive.recorder.ffmpeg.build_argv` without the camera-clock outputs;
- ``camera_clock``: the same with them (key frames to ``framecrc`` and fragmented MP4 through two
  pipes), the pipes read by :class:`archive.recorder.camera_clock.CameraClockTracker` in this
  process, as the recorder does (one thread per pipe here; the recorder reads them on its loop).

Printed: ffmpeg's user+system CPU-s per camera-minute of each variant and the ratio, and the
tracker's own CPU (thread time of the readers) per camera-minute. Differences under about 5 %
are within the run-to-run noise of this shared 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.recorder.camera_clock import CameraClockTracker
from archive.recorder.ffmpeg import RecordingSpec, build_argv, find_ffmpeg
from archive.sim.cameras import SimulatedCameraSet
from tests.bench.procstat import cpu_s

WARMUP_S = 15.0


class Drained:
    """Reads one pipe to its end on a thread, feeding a tracker; keeps its thread CPU."""

    def __init__(self, fd: int, feed: Callable[[bytes], None]) -> None:
        self.fd, self.feed, self.cpu = fd, feed, 0.0
        self.marks: list[float] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with os.fdopen(self.fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                self.feed(chunk)
                self.cpu = time.thread_time()

    def mark(self) -> None:
        self.marks.append(self.cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    ffmpeg = find_ffmpeg()
    procs: dict[str, list[subprocess.Popen[bytes]]] = {"today": [], "camera_clock": []}
    readers: list[Drained] = []
    trackers: list[CameraClockTracker] = []
    with tempfile.TemporaryDirectory() as tmp, SimulatedCameraSet(args.cameras, "h264") as sims:
        try:
            for i, cam in enumerate(sims.cameras):
                spec = RecordingSpec.create(f"bench{i}", cam.url, camera_clock=True)
                for name in procs:
                    out = Path(tmp) / f"{name}-{i}"
                    out.mkdir()
                    fds: tuple[int, int] | None = None
                    pipes: list[tuple[int, int]] = []
                    if name == "camera_clock":
                        pipes = [os.pipe(), os.pipe()]
                        fds = (pipes[0][1], pipes[1][1])
                    argv = build_argv(spec, out / "run-%06d.ts", out / "run.csv", ffmpeg=ffmpeg, camera_clock_fds=fds)
                    with (out / "stdout").open("wb") as so, (out / "stderr").open("wb") as se:
                        procs[name].append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                                                            pass_fds=fds or ()))  # fmt: skip
                    if pipes:
                        for _, w in pipes:
                            os.close(w)
                        tracker = CameraClockTracker(out / "run.camtime", spec.camera_id)
                        trackers.append(tracker)
                        readers += [Drained(pipes[0][0], tracker.framecrc), Drained(pipes[1][0], tracker.mp4)]
            time.sleep(WARMUP_S)
            before = {name: [cpu_s(p.pid, with_children=False) or 0.0 for p in ps] for name, ps in procs.items()}
            for r in readers:
                r.mark()
            time.sleep(args.seconds)
            after = {name: [cpu_s(p.pid, with_children=False) or 0.0 for p in ps] for name, ps in procs.items()}
            for r in readers:
                r.mark()
            times = [t.path.read_text().count("\n") for t in trackers]
            with_sr = [sum(1 for line in t.path.read_text().splitlines() if not line.endswith(" -")) for t in trackers]
        finally:
            for ps in procs.values():
                for p in ps:
                    p.terminate()
            for ps in procs.values():
                for p in ps:
                    p.wait(10)
    cam_min = args.cameras * args.seconds / 60
    spent = {name: sum(b - a for a, b in zip(before[name], after[name], strict=True)) / cam_min for name in procs}
    tracker_cpu = sum(r.marks[1] - r.marks[0] for r in readers if len(r.marks) == 2) / cam_min
    print(f"cameras={args.cameras} seconds={args.seconds:.0f}  (CPU-s per camera-minute; ffmpeg user+system)")
    print(f"  today         {spent['today']:.3f}  x1.00")
    print(f"  camera_clock  {spent['camera_clock']:.3f}  x{spent['camera_clock'] / spent['today']:.2f}"
          f"  (+ tracker in the recorder {tracker_cpu:.4f})")  # fmt: skip
    print(f"  key frames written per camera: {times}, with the camera's time: {with_sr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
