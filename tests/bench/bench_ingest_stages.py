"""Benchmark: the CPU of each step of ingesting one segment, against hashing its bytes alone.

Run: ``.venv/bin/python tests/bench/bench_ingest_stages.py [--segments N] [--seconds S]``

One real segment (S seconds of 1280x720 25 fps H.264 at 2 Mbit/s, MPEG-TS, made by ffmpeg) is
ingested N times through the production parts, each step timed with ``time.thread_time`` (CPU of
this thread only; the store's CPU is in another process and not counted):

1. read: the file into memory (one read; the same bytes are hashed, parsed and uploaded);
2. sha256: ``hashlib.sha256`` of those bytes, the baseline: no ingest can do less than hash them;
3. parse: the in-process MPEG-TS parser (codec, size, keyframe start, duration, problems);
4. put: ``S3Store.put_bytes`` into the embedded SeaweedFS (signed with the known sha256, then the
   confirming HEAD);
5. record: ``LedgerSink.record_segment`` (SQLite catalog row + evidence-log entry, one transaction).

Printed: milliseconds of CPU per segment for each step, each as a multiple of the sha256 step,
and the whole in CPU-s per camera-minute (the unit of ``bench_recorder``), so the part of the
recorder's Python CPU that the hash alone accounts for is visible.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.bootstrap import Runtime
from archive.config import load_config
from archive.model import Camera, Owner, OwnerKind
from archive.recorder.ffmpeg import find_ffmpeg
from archive.recorder.ledger_sink import LedgerSink
from archive.recorder.probe import parse_chunks
from archive.recorder.sink import SegmentRecord
from archive.recorder.tsparse import TsParser

STEPS = ("read", "sha256", "parse", "put", "record")


def make_segment(path: Path, seconds: int) -> None:
    subprocess.run(
        [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2M", "-maxrate", "2M",
         "-bufsize", "4M", "-g", "50", "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--segments", type=int, default=60)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        segment = work / "segment.ts"
        make_segment(segment, args.seconds)
        size = segment.stat().st_size
        policies = Path(__file__).resolve().parents[2] / "retention_policies"
        (work / "archive.toml").write_text(f'[paths]\ndata_dir = "var"\n[retention]\npolicies_dir = "{policies}"\n')
        cfg = load_config(work / "archive.toml", env={})
        cpu = dict.fromkeys(STEPS, 0.0)
        with Runtime(cfg) as rt:
            owner = Owner("bench", "Bench", OwnerKind.GOVERNMENT)
            cam = Camera("bench-0", "bench", "bench", "rtsp://127.0.0.1/x", -7.47, 112.43, "loopback")
            rt.registry.apply([owner], [(cam, None)])
            rt.writer_claims.claim(cam.id)  # one writer per camera: a recorder claims before it appends
            store, sink, bucket = rt.store, LedgerSink(rt.ledger), cfg.storage.media_bucket
            t0 = dt.datetime.now(dt.UTC)
            for i in range(args.segments):
                a = time.thread_time()
                data = segment.read_bytes()
                b = time.thread_time()
                digest = hashlib.sha256(data).hexdigest()
                c = time.thread_time()
                parser = TsParser()
                parser.feed(data)
                parser.finish()
                d = time.thread_time()
                facts = parse_chunks((data,))  # the production call (hash + parse): its result is stored
                assert facts is not None and facts.sha256 == digest
                key = f"bench-0/{i:06d}.ts"
                e = time.thread_time()
                put = store.put_bytes(bucket, key, data, content_type="video/mp2t",
                                      metadata={"sha256": digest}, sha256=digest)  # fmt: skip
                f = time.thread_time()
                start = t0 + dt.timedelta(seconds=args.seconds * i)
                end = start + dt.timedelta(seconds=facts.duration)
                sink.record_segment(SegmentRecord(
                    camera_id="bench-0", seq=i, bucket=bucket, key=key, version_id=put.version_id,
                    size=facts.size, sha256=digest, start=start, end=end, wall_end=end, arrival_lag=0.0,
                    duration=facts.duration, video_codec=facts.video_codec, width=facts.width,
                    height=facts.height, audio_codec=facts.audio_codec,
                    starts_with_keyframe=facts.starts_with_keyframe, readable=facts.readable,
                    complete=facts.complete, partial=False, run_id="bench", run_index=i,
                    ingested_at=end, problems=facts.problems,
                ))  # fmt: skip
                g = time.thread_time()
                for step, spent in zip(STEPS, (b - a, c - b, d - c, f - e, g - f), strict=True):
                    cpu[step] += spent
    n = args.segments
    per_min = 60 / args.seconds
    print(f"{n} segments of {args.seconds} s ({size} bytes); CPU ms per segment (x sha256):")
    for step in STEPS:
        ms = cpu[step] / n * 1000
        print(f"  {step:7s} {ms:7.2f}  x{cpu[step] / cpu['sha256']:.2f}")
    total = sum(cpu.values()) / n
    print(f"  total   {total * 1000:7.2f}  = {total * per_min:.3f} CPU-s per camera-minute, of which sha256 "
          f"{cpu['sha256'] / n * per_min:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
