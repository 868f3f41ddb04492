"""Benchmark: the recorder's ffmpeg command line against bare ``ffmpeg -c copy -f segment``.

Run: ``.venv/bin/python tests/bench/bench_ffmpeg_argv.py [--cameras N] [--seconds S]``

Every variant records every one of N simulated cameras (bulk simulator, 720p 2 Mbit/s H.264 over
RTSP/TCP) at the same time for S seconds after a 15 s warm-up, so load affects all alike:

- ``bare``: ``ffmpeg -rtsp_transport tcp -i URL -map 0 -c copy -f segment -segment_time 10``;
- ``bare+flush``: the same with ``-segment_format_options flush_packets=1``;
- ``archive``: :func:`archive.recorder.ffmpeg.build_argv` as the recorder runs it (progress pipe,
  log at info level, PTS-filling bitstream filter, segment list), its pipes drained to files;
- ``archive+flush``: the same with ``RecordingSpec.flush_packets``.

Printed: user and system CPU-s per camera-minute of each variant and its ratio to ``bare``.
Differences under about 5 % are within the run-to-run noise of this shared 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.recorder.ffmpeg import RecordingSpec, build_argv, find_ffmpeg
from archive.sim.bulk import BulkCameraSet

TICK = os.sysconf("SC_CLK_TCK")
WARMUP_S = 15.0
Variant = Callable[[str, Path], list[str]]


def cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU-s of one live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def variants(ffmpeg: str) -> dict[str, Variant]:
    def bare(flush: bool) -> Variant:
        def argv(url: str, out: Path) -> list[str]:
            return [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-map", "0",
                    "-c", "copy", "-f", "segment", "-segment_time", "10", "-reset_timestamps", "1",
                    *(["-segment_format_options", "flush_packets=1"] if flush else []),
                    str(out / "%06d.ts")]  # fmt: skip

        return argv

    def archive(flush: bool) -> Variant:
        def argv(url: str, out: Path) -> list[str]:
            spec = RecordingSpec.create("bench", url, flush_packets=flush)
            return build_argv(spec, out / "run-%06d.ts", out / "run.csv", ffmpeg=ffmpeg)

        return argv

    return {"bare": bare(False), "bare+flush": bare(True), "archive": archive(False), "archive+flush": archive(True)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120.0)
    args = ap.parse_args()
    table = variants(find_ffmpeg())
    procs: dict[str, list[subprocess.Popen[bytes]]] = {name: [] for name in table}
    with tempfile.TemporaryDirectory() as tmp, BulkCameraSet(args.cameras) as sims:
        sims.start()
        try:
            for i, url in enumerate(sims.urls):
                for name, argv in table.items():
                    out = Path(tmp) / f"{name}-{i}"
                    out.mkdir()
                    with (out / "stdout").open("wb") as so, (out / "stderr").open("wb") as se:
                        procs[name].append(subprocess.Popen(argv(url, out), stdin=subprocess.DEVNULL, stdout=so,
                                                            stderr=se))  # fmt: skip
            time.sleep(WARMUP_S)
            before = {name: [cpu(p.pid) for p in ps] for name, ps in procs.items()}
            time.sleep(args.seconds)
            after = {name: [cpu(p.pid) for p in ps] for name, ps in procs.items()}
        finally:
            for ps in procs.values():
                for p in ps:
                    p.terminate()
            for ps in procs.values():
                for p in ps:
                    p.wait(10)
    cam_min = args.cameras * args.seconds / 60
    spent = {
        name: (sum(b[0] - a[0] for a, b in zip(before[name], after[name], strict=True)) / cam_min,
               sum(b[1] - a[1] for a, b in zip(before[name], after[name], strict=True)) / cam_min)
        for name in table
    }  # fmt: skip
    base = sum(spent["bare"])
    print(f"cameras={args.cameras} seconds={args.seconds:.0f}  (CPU-s per camera-minute)")
    for name, (user, system) in spent.items():
        print(f"  {name:14s} user {user:.3f} sys {system:.3f} total {user + system:.3f}  x{(user + system) / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
