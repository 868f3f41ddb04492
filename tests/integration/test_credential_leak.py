"""The attack of issue 14 item 1, for real: a camera with a password freezes while the recorder
runs Debian's ffmpeg 5.1, which then prints ``rtsp://user:PASS@host/...: Connection timed out``.

Real simulated RTSP camera, real ``/usr/bin/ffmpeg``, real SeaweedFS, real catalog (SQLite and
PostgreSQL). The password must be in none of: gap rows of the catalog, the log-bucket objects
(read back from the store), ``status.json``, the recordings search the API answers from, the
application log, an export package (entries, report, everything in it).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from archive.ledger.repo import GAP, SEGMENT
from archive.model import us_from_utc, utc_from_us
from archive.recorder.backoff import Backoff
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.health import HealthLimits
from archive.recorder.ingest import Ingester
from archive.recorder.ledger_sink import LedgerSink
from archive.recorder.service import Recorder
from archive.recorder.status import CameraState
from archive.recorder.status_file import write_status_file
from archive.recorder.supervisor import SupervisorSettings
from archive.redact import forget_secret, install_log_scrubber
from archive.search.service import SearchService
from archive.storage.base import ObjectStore
from tests.fixtures.cameras import SimCameraFactory
from tests.integration.export_support import approve_and_build, make_env, request
from tests.integration.test_recorder import retention, wait_until

DEBIAN_FFMPEG = Path("/usr/bin/ffmpeg")
PASSWORD = "Zq7#Kx/9?p@W:ü"  # every URL delimiter and a non-ASCII letter
FORMS = (PASSWORD, quote(PASSWORD, safe=""), "Zq7%23Kx")  # as set, as in the URL, a telling fragment


def _leaks(blob: bytes | str) -> list[str]:
    text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
    return [f for f in FORMS if f in text]


@pytest.mark.skipif(not DEBIAN_FFMPEG.is_file(), reason="Debian's ffmpeg: apt-get install -y ffmpeg")
def test_frozen_camera_password_reaches_no_kept_text(
    sim_cameras: SimCameraFactory, s3_store: ObjectStore, catalog_url: str, tmp_path: Path
) -> None:
    env = make_env(catalog_url, s3_store, tmp_path)
    (cam,) = sim_cameras(1, "h264")
    url = cam.url.replace("rtsp://", f"rtsp://viewer:{quote(PASSWORD, safe='')}@")  # as bootstrap builds it
    spec = RecordingSpec.create("mall-1", url, segment_seconds=2)
    ingester = Ingester(s3_store, LedgerSink(env.ledger), bucket=env.media, retention=retention, workers=2,
                        retry=Backoff(0.2, 2.0), store_retry=Backoff(0.5, 2.0))  # fmt: skip
    settings = SupervisorSettings(tmp_path / "spool", ffmpeg=str(DEBIAN_FFMPEG))
    log_out = io.StringIO()
    handler = logging.StreamHandler(log_out)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    install_log_scrubber()
    status_path = tmp_path / "data" / "run" / "status.json"
    recorder = Recorder([spec], settings, ingester=ingester)
    started = dt.datetime.now(dt.UTC)
    try:
        with recorder:
            wait_until(lambda: recorder.status().camera("mall-1").ingest.ingested >= 2, 40, "segments before")
            cam.freeze()  # a black hole: ffmpeg's -timeout ends it with "Connection timed out"
            try:
                wait_until(lambda: recorder.status().camera("mall-1").last_exit is not None, 30, "ffmpeg gave up")
            finally:
                cam.thaw()
            wait_until(lambda: recorder.status().camera("mall-1").state is CameraState.RECORDING, 30, "back")
            n = recorder.status().camera("mall-1").ingest.ingested
            wait_until(lambda: recorder.status().camera("mall-1").ingest.ingested >= n + 2, 40, "segments after")
            wait_until(lambda: recorder.status().camera("mall-1").ingest.gaps >= 1, 20, "the gap logged")
            status = recorder.status()
            write_status_file(status_path, status, HealthLimits())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.getLogger("archive").filters.clear()
        for secret in (PASSWORD, quote(PASSWORD, safe="")):  # the recorder remembered them
            forget_secret(secret)
    ended = dt.datetime.now(dt.UTC)
    print("last exit:", status.camera("mall-1").last_exit)

    leaks: dict[str, list[str]] = {}  # every boundary that kept the password, to see them all at once

    def check(where: str, blob: bytes | str) -> None:
        if found := _leaks(blob):
            leaks.setdefault(where, []).extend(found)

    with env.engine.connect() as conn:  # type: ignore[attr-defined]
        details = [r.detail for r in conn.execute(select(GAP.c.detail).where(GAP.c.camera_id == "mall-1"))]
    assert details, "no gap was logged"
    print("gap details:", details)
    for d in details:
        check("catalog gap row", d)

    env.ledger.checkpoint("mall-1")  # publish the entries and the checkpoint to the log bucket
    origin = env.ledger.log_id("mall-1")
    objects = [o for o in s3_store.list_versions(env.ledger.settings.log_bucket) if origin in o.key]
    assert any("entries" in o.key for o in objects), [o.key for o in objects]
    for o in objects:
        check(f"log bucket {o.key}", s3_store.get_bytes(o.bucket, o.key, o.version_id))

    check("status.json", status_path.read_bytes())

    search = SearchService(env.engine)  # type: ignore[arg-type]
    page = search.recordings(env.who("inv1"), ["mall-1"], us_from_utc(started), us_from_utc(ended))
    gaps = [g for c in page.coverage for g in c.gaps]
    assert gaps
    for g in gaps:
        check("recordings search gap", g.detail)

    check("application log", log_out.getvalue())

    with env.engine.connect() as conn:  # type: ignore[attr-defined]
        first_us = conn.execute(select(func.min(SEGMENT.c.start_us)).where(SEGMENT.c.camera_id == "mall-1")).scalar()
    # the export covers what the log holds (a range before the first record is refused at request time)
    export_id = request(env, cameras=("mall-1",), start=utc_from_us(int(first_us)), end=ended)
    package = approve_and_build(env, export_id)
    files = _package_files(package)
    assert any(name.endswith("entries.jsonl") for name in files) and any("report" in n for n in files), sorted(files)
    for name, data in files.items():
        check(f"export {name}", data)
    assert leaks == {}, sorted(leaks)

def _package_files(package: Path) -> dict[str, bytes]:
    if package.is_dir():
        return {str(p.relative_to(package)): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    with zipfile.ZipFile(package) as z:
        return {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
