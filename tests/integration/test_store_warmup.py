"""The embedded store takes writes when ``start()`` returns (issue 14 audit follow-up item 2).

Measured: after the service session's start, the first PUT into a bucket sometimes hung in
SeaweedFS's volume assignment ("chunked upload failed: assign volume", 1 of 6 starts under a
3-worker run) until the client's 10 s read timeout, so the first audited request of ``archive
api serve`` answered 503 after 10 s; a second PUT went through at once. ``start()`` now makes
a first write into every bucket with short attempts before it returns.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.storage.probe import PROBE_PREFIX
from archive.storage.s3 import S3Store
from archive.storage.seaweed import EmbeddedSeaweed

BUCKETS = ("warm-media", "warm-log")


def _first_writes(weed: EmbeddedSeaweed, run: int) -> list[float]:
    creds = weed.credentials
    store = S3Store(weed.endpoint, creds.access_key, creds.secret_key, secure=False)
    out = []
    for bucket in BUCKETS:
        began = time.monotonic()
        store.put_bytes(bucket, f"first-{run}", b"x", content_type="text/plain")
        out.append(time.monotonic() - began)
    return out


def test_start_returns_once_every_bucket_took_a_write(tmp_path: Path) -> None:
    for run in range(2):  # the first start (with the Admin session) and a restart
        weed = EmbeddedSeaweed(tmp_path / "store", buckets=BUCKETS)
        began = datetime.now(UTC) - timedelta(seconds=2)
        weed.start()
        try:
            creds = weed.credentials
            store = S3Store(weed.endpoint, creds.access_key, creds.secret_key, secure=False)
            for bucket in BUCKETS:  # start() proved the bucket takes a write (only the newest is kept)
                warm = list(store.list_versions(bucket, f"{PROBE_PREFIX}warmup"))
                assert len(warm) == 1 and warm[0].last_modified is not None, (bucket, warm)
                assert warm[0].last_modified >= began.replace(microsecond=0), (bucket, warm)
            assert max(_first_writes(weed, run)) < 3.0
        finally:
            weed.stop()
