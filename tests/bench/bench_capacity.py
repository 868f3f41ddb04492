"""Capacity benchmark: the real Recorder on N simulated 2 Mbit/s RTSP cameras for M minutes.

Run: ``.venv/bin/python tests/bench/bench_capacity.py --cameras 100 --minutes 10``
(quick smoke run: ``--cameras 8 --minutes 1``; ``--sim-server gst`` for the GStreamer bulk server;
``--upload-workers K`` sets ``recorder.upload_workers``, otherwise the configuration's default is used).

N bulk-mode simulated cameras (:class:`archive.sim.bulk.BulkCameraSet`: 1280x720, 25 fps, GOP 2 s,
2 Mbit/s, one RTSP server process) are registered and recorded exactly as bench_recorder.py does
(Runtime with the embedded SeaweedFS and SQLite catalog, Checkpointer, ``rt.recorder(cams)``).
Every 5 s: the spool over all cameras (segment files and bytes on disk, from ``recorder.status()``),
CPU of each part (the recorders' ffmpeg processes, this Python process, SeaweedFS, the simulator's
processes, everything else on the machine) and the load average.

Reported at the end, with one PASS/FAIL line per target:

- segments cataloged per camera vs expected: a camera-minute is 6 segments of 10 s;
- gaps logged while recording (after each camera's first segment, before the stop): must be 0;
- segments lost: for each camera, (a) run indices missing between the first and the last cataloged
  segment of each ffmpeg run (ffmpeg numbers its segments; a missing number is a segment that was
  written and never cataloged), plus (b) holes in media time between consecutive cataloged segments
  longer than 1 s (media never written at all), counted in 10 s segments (rounded up), plus (c)
  finished segments still in the spool after the final drain. The first segment (connection time)
  and the last one (cut short by the stop) are partial by nature and only counted as cataloged;
- spool backlog trend: mean number of segment files in the cameras' spools (``status().cameras[i].spool``,
  listed live: the N being written plus the finished ones not yet stored) in the last third of the
  sampled window vs the first third; "does not grow" = last <= first + max(2, N/50) files;
- finished -> durable and cataloged latency p50/p99 (catalog ``ingested_us`` minus the segment
  file's close time ``wall_end``, as bench_recorder.py computes it), target p99 <= 2 s;
- this (supervisor) process's RSS max, target <= 200 MB (ffmpeg processes separate);
- CPU per part in CPU-s per camera-minute over the window after a 30 s warm-up, and machine use.

Seen on the 2-core machine (lite simulator): 100 cameras x 10 min pass every target with
``--upload-workers 8``; with the default 4 the spool grows by about 2 segments a second (the ingest
dispatcher refills the workers only once per pass), 80 cameras keep up but miss p99 <= 2 s.
``--sim-server gst`` saturates the machine at 100 cameras (the simulator alone takes ~0.9 cores).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import text

from archive.bootstrap import Runtime
from archive.config import load_config
from archive.ledger.checkpoints import Checkpointer
from archive.model import Camera, Owner, OwnerKind
from archive.sim.bulk import BulkCameraSet
from tests.bench.procstat import TICK, children, comm, cpu_s, descendants, rss_mb

SAMPLE_S = 5.0
WARMUP_S = 30.0
SEGMENT_S = 10


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    idle = values[3] + values[4]
    return (total - idle) / TICK, total / TICK


@dataclass
class CpuTracker:
    """CPU of a changing set of processes: the last value seen of every pid ever seen."""

    last: dict[int, float] = field(default_factory=dict)
    base: dict[int, float] = field(default_factory=dict)

    def update(self, pids: list[int], with_children: bool = True) -> None:
        for pid in pids:
            value = cpu_s(pid, with_children)
            if value is not None:
                self.last[pid] = value

    def mark(self) -> None:
        self.base = dict(self.last)

    def used(self) -> float:
        return sum(v - self.base.get(pid, 0.0) for pid, v in self.last.items())


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(n: int, minutes: float, sim_server: str, workdir: Path, upload_workers: int | None = None) -> int:
    policies = Path(__file__).resolve().parents[2] / "retention_policies"
    toml = f'[paths]\ndata_dir = "var"\n[retention]\npolicies_dir = "{policies}"\n'
    if upload_workers is not None:  # default: the configuration's default, as bench_recorder.py
        toml += f"[recorder]\nupload_workers = {upload_workers}\n"
    (workdir / "archive.toml").write_text(toml)
    cfg = load_config(workdir / "archive.toml", env={})
    me = os.getpid()
    seconds = minutes * 60
    print(
        f"bench_capacity: {n} cameras x {minutes:g} min, simulator {sim_server}, upload_workers "
        f"{cfg.recorder.upload_workers}, "
        f"machine {os.cpu_count()} cores, load before {os.getloadavg()}",
        flush=True,
    )
    sims = BulkCameraSet(n, "h264", server=sim_server, workdir=workdir / "sim")
    with sims, Runtime(cfg) as rt:
        sim_pid = sims.pid
        assert sim_pid is not None
        owner = Owner("bench", "Bench", OwnerKind.GOVERNMENT)
        cams = [
            Camera(f"cap-{i:03d}", f"cap {i}", "bench", u, -7.47, 112.43, "loopback") for i, u in enumerate(sims.urls)
        ]
        rt.registry.apply([owner], [(c, None) for c in cams])
        ledger = rt.ledger
        assert rt.seaweed is not None and rt.seaweed.pid is not None
        weed_pid = rt.seaweed.pid
        checkpointer = Checkpointer(ledger.engine, ledger.signer, ledger.settings.checkpoint_interval_s)
        recorder = rt.recorder(cams)
        checkpointer.start()
        recorder.start()
        started = time.monotonic()
        ff, py, weed, sim = CpuTracker(), CpuTracker(), CpuTracker(), CpuTracker()
        samples: list[dict[str, float]] = []
        rss_max = 0.0
        marked = False
        m0 = machine_cpu()
        w0 = started
        next_sample = started + SAMPLE_S
        while True:
            now = time.monotonic()
            if now >= started + seconds:
                break
            time.sleep(max(0.0, next_sample - now))
            next_sample += SAMPLE_S
            sim_pids = [sim_pid, *descendants(sim_pid)]
            ff.update([p for p in children(me) if p not in sim_pids and comm(p).startswith("ffmpeg")])
            py.update([me], with_children=False)
            weed.update([weed_pid])
            sim.update(sim_pids)
            rss_max = max(rss_max, rss_mb(me))
            status = recorder.status()
            t = time.monotonic() - started
            sample = {
                "t": t,
                "backlog_files": sum(c.ingest.backlog_files for c in status.cameras),
                "backlog_bytes": sum(c.ingest.backlog_bytes for c in status.cameras),
                "spool_bytes": sum(c.spool.bytes_used for c in status.cameras),
                "spool_files": sum(c.spool.segments for c in status.cameras),
                "recording": sum(1 for c in status.cameras if c.state.value == "recording"),
                "restarts": sum(c.restarts for c in status.cameras),
                "load1": os.getloadavg()[0],
            }
            if not marked and t >= WARMUP_S:
                for tracker in (ff, py, weed, sim):
                    tracker.mark()
                m0, w0, marked = machine_cpu(), time.monotonic(), True
            if marked:
                samples.append(sample)
            if int(t) % 60 < SAMPLE_S:
                print(
                    f"  t={t:5.0f}s recording {sample['recording']:.0f}/{n} backlog {sample['backlog_files']:.0f} "
                    f"files {sample['backlog_bytes'] / 1e6:.1f} MB load {sample['load1']:.1f}",
                    flush=True,
                )
        m1, w1 = machine_cpu(), time.monotonic()
        window = w1 - w0
        stop_wall = datetime.now(UTC)
        final = recorder.status()
        recorder.stop(drain=60.0)
        checkpointer.stop()
        left = recorder.status()
        left_files = sum(c.ingest.backlog_files for c in left.cameras)
        restarts = sum(c.restarts for c in final.cameras)
        with rt.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT camera_id, start_us, end_us, duration_us, partial, ingested_us, meta FROM segment")
            ).all()
            gap_rows = conn.execute(text("SELECT camera_id, start_us, end_us, reason FROM gap")).all()
    return report(
        n,
        minutes,
        sim_server,
        rows,
        gap_rows,
        samples,
        (ff, py, weed, sim),
        (m0, m1),
        window,
        rss_max,
        restarts,
        left_files,
        stop_wall,
    )


def report(
    n: int,
    minutes: float,
    sim_server: str,
    rows: list,
    gap_rows: list,
    samples: list[dict[str, float]],
    trackers: tuple[CpuTracker, ...],
    machine: tuple[tuple[float, float], tuple[float, float]],
    window: float,
    rss_max: float,
    restarts: int,
    left_files: int,
    stop_wall: datetime,
) -> int:
    by_cam: dict[str, list] = defaultdict(list)
    lat: list[float] = []
    for row in rows:
        meta = json.loads(row.meta)
        by_cam[row.camera_id].append((row, meta))
        lat.append(row.ingested_us / 1e6 - datetime.fromisoformat(meta["wall_end"]).timestamp())
    missing_index = holes = 0
    runs_per_cam = Counter()
    first_start: dict[str, int] = {}
    for cam, segs in by_cam.items():
        segs.sort(key=lambda s: s[0].start_us)
        first_start[cam] = segs[0][0].start_us
        runs: dict[str, list[int]] = defaultdict(list)
        for _row, meta in segs:
            runs[meta["run_id"]].append(int(meta["run_index"]))
        runs_per_cam[len(runs)] += 1
        for indices in runs.values():
            missing_index += (max(indices) - min(indices) + 1) - len(set(indices))
        for (a, _), (b, _) in itertools.pairwise(segs):
            hole = (b.start_us - a.end_us) / 1e6
            if hole > 1.0:
                holes += math.ceil(hole / SEGMENT_S)
    lost = missing_index + holes + left_files
    stop_us = int(stop_wall.timestamp() * 1e6)
    gaps_during = [
        g for g in gap_rows if g.camera_id in first_start and first_start[g.camera_id] <= g.start_us < stop_us - 2e6
    ]
    gaps_other = len(gap_rows) - len(gaps_during)
    counts = sorted(len(by_cam.get(c, [])) for c in by_cam) + [0] * (n - len(by_cam))
    counts.sort()
    expected = minutes * 6
    full = sum(1 for r in rows if not r.partial)

    cam_min = n * window / 60
    ff, py, weed, sim = (t.used() for t in trackers)
    (b0, _), (b1, _) = machine
    cores = os.cpu_count() or 1
    busy = (b1 - b0) / window
    others = busy - (ff + py + weed + sim) / window
    third = max(1, len(samples) // 3)

    def mean(key: str, part: list[dict[str, float]]) -> float:
        return statistics.mean(s[key] for s in part) if part else math.nan

    first, last = mean("spool_files", samples[:third]), mean("spool_files", samples[-third:])
    first_mb, last_mb = mean("spool_bytes", samples[:third]) / 1e6, mean("spool_bytes", samples[-third:]) / 1e6
    max_files = max((s["spool_files"] for s in samples), default=math.nan)
    status_first, status_last = mean("backlog_files", samples[:third]), mean("backlog_files", samples[-third:])
    loads = [s["load1"] for s in samples]
    growing = not (last <= first + max(2.0, n / 50))

    print()
    print(
        f"RESULT cameras={n} minutes={minutes:g} simulator={sim_server} window={window:.0f}s "
        f"(CPU measured after {WARMUP_S:.0f} s warm-up)"
    )
    print(
        f"  segments cataloged: {len(rows)} ({full} full, {len(rows) - full} partial); per camera "
        f"min {counts[0]} median {statistics.median(counts):g} max {counts[-1]}; expected about {expected:g} "
        f"per camera ({n * expected:g} total) = 6 per camera-minute, less the connection time, plus the last partial"
    )
    print(
        f"  cameras with segments: {len(by_cam)}/{n}; ffmpeg runs per camera: {dict(sorted(runs_per_cam.items()))}; "
        f"ffmpeg starts {restarts} (restarts after the first: {restarts - n})"
    )
    print(
        f"  segments lost: {lost} = {missing_index} missing run indices + {holes} in media-time holes > 1 s "
        f"+ {left_files} left in the spool after the drain"
    )
    print(
        f"  gaps logged while recording: {len(gaps_during)} {Counter(g.reason for g in gaps_during) or ''}; "
        f"other gap entries (before the first segment or at the stop): {gaps_other} "
        f"{Counter(g.reason for g in gap_rows if g not in gaps_during) or ''}"
    )
    print(
        f"  spool (segment files on disk, incl. the {n} being written) mean first third {first:.1f}, last third "
        f"{last:.1f}, max {max_files:.0f}; bytes {first_mb:.1f} MB -> {last_mb:.1f} MB; ingest backlog from "
        f"status {status_first:.1f} -> {status_last:.1f} files"
    )
    print(
        f"  finished -> durable+cataloged latency p50 {pct(lat, 0.5):.2f} s, p99 {pct(lat, 0.99):.2f} s, "
        f"max {max(lat, default=math.nan):.2f} s ({len(lat)} segments)"
    )
    print(f"  supervisor process RSS max {rss_max:.0f} MB (ffmpeg processes separate)")
    print(
        "  CPU-s per camera-minute: "
        f"ffmpeg recorders {ff / cam_min:.3f}, python (supervise+ingest+log) {py / cam_min:.3f}, "
        f"SeaweedFS {weed / cam_min:.3f}, simulator {sim / cam_min:.3f}; archive total (ffmpeg+python+store) "
        f"{(ff + py + weed) / cam_min:.3f}"
    )
    print(
        f"  cores used: ffmpeg {ff / window:.2f}, python {py / window:.2f}, SeaweedFS {weed / window:.2f}, "
        f"simulator {sim / window:.2f}, everything else {others:.2f}; machine busy {busy:.2f} of {cores} "
        f"({100 * busy / cores:.0f} %); load1 min {min(loads, default=0):.1f} mean "
        f"{statistics.mean(loads) if loads else 0:.1f} max {max(loads, default=0):.1f}"
    )
    checks = [
        (f"capacity {n} cameras: zero lost segments", lost == 0, f"lost {lost}"),
        ("capacity: no gaps after the first segment", not gaps_during, f"{len(gaps_during)} gaps"),
        (
            "capacity: every camera recorded",
            len(by_cam) == n and counts[0] >= max(1, expected - 2),
            f"{len(by_cam)}/{n} cameras, min {counts[0]} segments",
        ),
        ("capacity: spool backlog does not grow", not growing, f"{first:.1f} -> {last:.1f} files"),
        ("latency finished -> cataloged p99 <= 2 s", pct(lat, 0.99) <= 2.0, f"p99 {pct(lat, 0.99):.2f} s"),
        ("supervisor RSS <= 200 MB", rss_max <= 200, f"{rss_max:.0f} MB"),
    ]
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}  ({detail})")
    return 0 if all(ok for _, ok, _ in checks) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--sim-server", choices=["lite", "gst"], default="lite")
    ap.add_argument("--upload-workers", type=int, help="recorder.upload_workers (default: the config default)")
    args = ap.parse_args()
    if args.minutes * 60 <= WARMUP_S + 2 * SAMPLE_S:
        ap.error(f"--minutes must leave a window after the {WARMUP_S:.0f} s warm-up")
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        return run(args.cameras, args.minutes, args.sim_server, Path(tmp), args.upload_workers)


if __name__ == "__main__":
    raise SystemExit(main())
