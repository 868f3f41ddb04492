"""``archive verify camera`` fails a log whose segments overlap (SPEC.md 8 step 8 (a)), as the old
recorder wrote them for a source bursting at connect; real catalog (SQLite and PostgreSQL) and
real SeaweedFS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from archive.ledger.verify import verify_camera
from archive.storage.base import ObjectStore
from tests.integration.ledger_support import T0, Env, make_env, store_segment

CAM = "cam-overlap"


@pytest.fixture
def env(catalog_url: str, s3_store: ObjectStore, tmp_path: Path) -> Iterator[Env]:
    e = make_env(catalog_url, s3_store, tmp_path)
    yield e
    e.engine.dispose()


def test_verify_camera_fails_overlapping_segments(env: Env) -> None:
    for i in range(4):  # 10 s segments starting 0.1 s apart: each overlaps the one before by 9.9 s
        facts, _ = store_segment(env, CAM, i, start=T0 + timedelta(milliseconds=100 * i))
        env.ledger.append_segment(CAM, facts)
    env.ledger.checkpoint(CAM)
    report = verify_camera(env.ledger, CAM)
    assert not report.ok, report.lines()
    assert any("seq 1 starts 9900000 us before seq 0 ends (overlap" in str(f) for f in report.failures), report.lines()


def test_verify_camera_passes_contiguous_segments(env: Env) -> None:
    for i in range(3):
        facts, _ = store_segment(env, CAM, i)
        env.ledger.append_segment(CAM, facts)
    env.ledger.checkpoint(CAM)
    report = verify_camera(env.ledger, CAM)
    assert report.ok, report.lines()
