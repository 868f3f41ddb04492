"""The ``storage`` health check sees the write path too: a store whose ping (a bucket list) answers
while every upload fails (measured on the replicated cluster with two of three volume servers down)
is not ok, without a 503, as long as the recorder says its uploads fail; before, it said ok."""

from __future__ import annotations

import datetime as dt

from archive.api.status import storage_check
from archive.recorder.status import RecorderStatus
from archive.storage.s3 import S3Store


def _status(store_available: bool) -> RecorderStatus:
    error = None if store_available else "put archive-media/cam-x/seg.ts: Read timed out. (read timeout=10.0)"
    return RecorderStatus(dt.datetime.now(dt.UTC), store_available, error, ())


def test_storage_check_is_not_ok_while_the_recorder_cannot_write(ingest_store: S3Store) -> None:
    failing = storage_check(ingest_store, every_s=0.0, writes=lambda: _status(False))()
    assert failing.ok is False and failing.critical is False, failing  # evidence still served: no 503
    assert "takes no write" in failing.detail and "cam-x" not in failing.detail  # /health names no camera
    working = storage_check(ingest_store, every_s=0.0, writes=lambda: _status(True))()
    assert working.ok is True and working.detail == "object store answers"
    assert storage_check(ingest_store, every_s=0.0)().ok is True  # no recorder in this process: ping only
