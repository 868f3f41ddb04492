"""Benchmark: the whole recording pipeline vs bare ``ffmpeg -c copy -f segment`` on the same cameras.

Run: ``.venv/bin/python tests/bench/bench_recorder.py [--cameras N] [--seconds S]``

Both record the same N simulated RTSP cameras (720p, 2 Mbit/s, clip relays) for S seconds **at
the same time** (each simulated camera serves both clients), so machine load affects both alike:

1. baseline: one bare ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment -segment_time 10``
   per camera into a local directory;
2. archive: the Recorder (same ffmpeg argv family + hashing + parsing + put_object + catalog row +
   log entry + spool unlink) into the embedded SeaweedFS and a SQLite catalog, with checkpoints.

Both CPU figures are read over the same window, after a warm-up (the first segment of each).

CPU is read from /proc (utime+stime of each process tree, children included after they exit),
split into: ffmpeg recorders, this Python process (supervisor, ingest, ledger; its threads listed,
less the main thread, which only runs this benchmark's sampling loop), SeaweedFS. The
simulator's own CPU is excluded from both. Printed: CPU-s per camera-minute for each part, the
ratio archive/baseline excluding and including the store, the CPU SHA-256 alone costs for the same
bytes (hashing the baseline's files afterwards: the floor of any ingest), segment finished ->
durable and cataloged latency (p50/p99, from the spool file's close time to the catalog row's
ingest time), segments lost (expected vs cataloged), and the supervisor's RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import text

from archive.bootstrap import Runtime
from archive.config import load_config
from archive.ledger.checkpoints import Checkpointer
from archive.model import Camera, Owner, OwnerKind
from archive.recorder.ffmpeg import find_ffmpeg
from archive.sim.cameras import SimulatedCameraSet
from tests.bench.procstat import TICK, children, comm, cpu_s, rss_mb

WARMUP_S = 15.0


def proc_cpu(pid: int) -> float:
    """utime+stime (+ reaped children's) of one process, in seconds; 0 if gone."""
    return cpu_s(pid) or 0.0


def ffmpeg_pids(parent: int) -> list[int]:
    return [c for c in children(parent) if comm(c).startswith("ffmpeg")]


def start_baseline(urls: list[str], workdir: Path) -> list[subprocess.Popen[bytes]]:
    ffmpeg = find_ffmpeg()
    procs = []
    for i, url in enumerate(urls):
        d = workdir / f"base{i}"
        d.mkdir()
        procs.append(subprocess.Popen(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-map", "0",
             "-c", "copy", "-f", "segment", "-segment_time", "10", "-reset_timestamps", "1",
             str(d / "%06d.ts")], stdin=subprocess.DEVNULL))
    return procs


def sha256_cpu_per_camera_minute(workdir: Path, seconds: float, cameras: int) -> float:
    """CPU-s per camera-minute that SHA-256 alone costs for the bytes the baseline recorded (the
    least any ingest must spend: the brief requires the hash of the exact bytes)."""
    files = sorted(workdir.glob("base*/*.ts"))
    total = 0
    start = time.thread_time()
    for path in files:
        data = path.read_bytes()
        total += len(data)
        hashlib.sha256(data).digest()
    spent = time.thread_time() - start
    return spent * (60.0 / seconds) / cameras if total else float("nan")


def thread_cpu() -> dict[str, float]:
    """CPU-s of this process's threads, summed by Python thread name (pool workers together)."""
    names = {t.native_id: re.sub(r"_\d+$", "", t.name) for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        name = names.get(int(task.name), "other")
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


def archive_run(urls: list[str], seconds: float, workdir: Path, warmup: float = WARMUP_S) -> dict[str, float]:
    policies = Path(__file__).resolve().parents[2] / "retention_policies"
    (workdir / "archive.toml").write_text(f'[paths]\ndata_dir = "var"\n[retention]\npolicies_dir = "{policies}"\n')
    cfg = load_config(workdir / "archive.toml", env={})
    me = os.getpid()
    with Runtime(cfg) as rt:
        owner = Owner("bench", "Bench", OwnerKind.GOVERNMENT)
        cams = [Camera(f"bench-{i}", f"bench {i}", "bench", u, -7.47, 112.43, "loopback") for i, u in enumerate(urls)]
        rt.registry.apply([owner], [(c, None) for c in cams])
        ledger = rt.ledger
        assert rt.seaweed is not None
        weed_pid = rt.seaweed.pid
        assert weed_pid is not None
        checkpointer = Checkpointer(ledger.engine, ledger.signer, ledger.settings.checkpoint_interval_s)
        recorder = rt.recorder(cams)
        checkpointer.start()
        recorder.start()
        base_procs = start_baseline(urls, workdir)
        base_started = time.monotonic()
        time.sleep(warmup)  # both connected and past their first segment
        cpu_self0, cpu_weed0 = proc_cpu(me), proc_cpu(weed_pid)
        threads0 = thread_cpu()
        ff_cpu0 = {pid: proc_cpu(pid) for pid in ffmpeg_pids(me) if pid not in {p.pid for p in base_procs}}
        base0 = sum(proc_cpu(p.pid) for p in base_procs)
        base_pids = {p.pid for p in base_procs}
        ff_cpu: dict[int, float] = {}
        rss_max = 0.0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(1)
            for pid in ffmpeg_pids(me):
                if pid not in base_pids:
                    ff_cpu[pid] = proc_cpu(pid) - ff_cpu0.get(pid, 0.0)
            rss_max = max(rss_max, rss_mb(me))
        for pid in ffmpeg_pids(me):
            if pid not in base_pids:
                ff_cpu[pid] = proc_cpu(pid) - ff_cpu0.get(pid, 0.0)
        base_cpu = sum(proc_cpu(p.pid) for p in base_procs) - base0
        cpu_self = proc_cpu(me) - cpu_self0
        threads = {k: v - threads0.get(k, 0.0) for k, v in thread_cpu().items()}
        cpu_self -= threads.pop("MainThread", 0.0)  # this loop's own /proc sampling, not the recorder
        cpu_weed = proc_cpu(weed_pid) - cpu_weed0
        for p in base_procs:
            p.terminate()
        for p in base_procs:
            p.wait(10)
        sha_cpu = sha256_cpu_per_camera_minute(workdir, time.monotonic() - base_started, len(urls))
        recorder.stop()
        checkpointer.stop()
        with rt.engine.connect() as conn:
            rows = conn.execute(text("SELECT ingested_us, meta FROM segment")).all()
    lat = []
    for ingested_us, meta in rows:
        wall_end = datetime.fromisoformat(json.loads(meta)["wall_end"])
        lat.append(ingested_us / 1e6 - wall_end.timestamp())
    lat.sort()
    ff_total = sum(ff_cpu.values())
    return {"ffmpeg": ff_total, "python": cpu_self, "weed": cpu_weed, "baseline": base_cpu, "sha256": sha_cpu,
            "segments": float(len(rows)), "lat_p50": statistics.median(lat) if lat else float("nan"),
            "lat_p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan"), "rss_mb": rss_max,
            **{f"thread:{k}": v for k, v in threads.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SimulatedCameraSet(args.cameras, "h264") as sims:
        sims.start()
        urls = list(sims.urls)
        work = Path(tmp)
        res = archive_run(urls, args.seconds, work)
    cam_min = args.cameras * args.seconds / 60
    per = {k: res[k] / cam_min for k in ("ffmpeg", "python", "weed")}
    base_per = res["baseline"] / cam_min
    ours = per["ffmpeg"] + per["python"]
    print(f"cameras={args.cameras} seconds={args.seconds:.0f}  (CPU-s per camera-minute)")
    print(f"  baseline ffmpeg -c copy -f segment : {base_per:.3f}")
    print(f"  archive ffmpeg recorders           : {per['ffmpeg']:.3f}")
    print(f"  archive python (supervise+ingest+log): {per['python']:.3f}")
    print(f"  archive SeaweedFS                  : {per['weed']:.3f}")
    print(f"  ratio excluding store: {ours / base_per:.2f}x   including store: {(ours + per['weed']) / base_per:.2f}x")
    parts = sorted(((k[7:], v / cam_min) for k, v in res.items() if k.startswith("thread:")), key=lambda kv: -kv[1])
    print("    by thread: " + ", ".join(f"{name} {cpu:.3f}" for name, cpu in parts if cpu >= 0.0005))
    sha = res["sha256"]
    floor = (base_per + sha) / base_per
    print(f"  sha256 of the same bytes alone     : {sha:.3f}  (bare ffmpeg + hash only: {floor:.2f}x)")
    expected = args.cameras * (args.seconds + WARMUP_S) / 10
    print(f"  segments cataloged {res['segments']:.0f} (about {expected:.0f} expected incl. warm-up and partials)")
    print(f"  finished -> durable+cataloged latency p50 {res['lat_p50']:.2f} s, p99 {res['lat_p99']:.2f} s")
    print(f"  supervisor process RSS max {res['rss_mb']:.0f} MB (ffmpeg processes separate)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
