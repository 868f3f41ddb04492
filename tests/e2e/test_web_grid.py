"""The grid in a real browser (Debian chromium through Playwright, real SeaweedFS, real ffmpeg
segments): four cameras played on one clock stay within 0.5 s of it; a seek across cam-a's logged
outage lands on the asked wall-clock time (the gap is never collapsed: a camera with nothing there
says so); an H.265 camera's tile says Chromium cannot play it and links the original segments; a
3x3 grid for more than four cameras; near-live follows segments appended while it plays.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.integrity import GapReason
from archive.model import Camera
from archive.recorder.ffmpeg import find_ffmpeg
from archive.storage.base import ObjectStore
from tests.e2e.test_web_browser import (
    CLIP,
    DESKTOP,
    PHONE,
    Served,
    T,
    Watch,
    _login,
    _record,
    _shot,
    _until,
    browser_type_launch_args,  # noqa: F401 (the machine's chromium)
    serve,
)
from tests.integration.api_support import CAMERAS, MEDIA, OWNERS, make_env
from tests.integration.export_support import make_clips

T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)  # 16:00:00 WIB
OUTAGE = (T0 + timedelta(seconds=40), T0 + timedelta(seconds=100))  # cam-a, logged camera_unreachable
EXTRA = (
    Camera("cam-c", "Simpang Pahlawan", "dishub", "rtsp://10.0.0.3/c", -7.4710, 112.4330, "Jl. Pahlawan", ()),
    Camera("cam-h", "Jembatan Rejoto (H.265)", "dishub", "rtsp://10.0.0.4/h", -7.4700, 112.4320, "Rejoto", ()),
    Camera("cam-l", "Terminal Kertajaya (live)", "dishub", "rtsp://10.0.0.5/l", -7.4690, 112.4310, "Kertajaya", ()),
)
GRID4 = "cam-a,cam-c,kota-1,cam-b"


def _hevc_clips(dest: Path, n: int) -> list[bytes]:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        find_ffmpeg(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=10",
        "-t",
        str(2 * n),
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "keyint=10:log-level=error",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "segment",
        "-segment_time",
        "2",
        "-reset_timestamps",
        "0",
        "-y",
        str(dest / "h%03d.ts"),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return [p.read_bytes() for p in sorted(dest.glob("h*.ts"))[:n]]


@pytest.fixture(scope="module")
def grid_served(s3_store: ObjectStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("grid")
    env = make_env(f"sqlite:///{tmp / 'catalog.sqlite3'}", s3_store, tmp, with_recordings=False)
    env.deps.registry.apply(OWNERS, [(c, None) for c in (*CAMERAS, *EXTRA)])
    clips = make_clips(tmp / "clips", 70)  # 140 s of one continuous H.264 stream
    _record(env, "cam-a", clips[:20], T0)
    env.ledger.append_gap("cam-a", OUTAGE[0], OUTAGE[1], GapReason.CAMERA_UNREACHABLE, "no route to host")
    _record(env, "cam-a", clips[50:70], OUTAGE[1])  # the stream's own time goes on: 100-140 s
    _record(env, "cam-c", clips, T0)
    _record(env, "kota-1", clips, T0)
    _record(env, "cam-b", clips[:5], T0)  # 0-10 s only
    _record(env, "cam-h", _hevc_clips(tmp / "hevc", 5), T0, replace(MEDIA, codec="hevc", width=320, height=240))
    with serve(env.deps, env.store) as url:
        yield Served(env, url, tmp / "screenshots")
    env.engine.dispose()


def _snapshot(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate("""() => ({clock: Number(document.getElementById('grid').dataset.clock),
        running: document.getElementById('grid').dataset.running,
        tiles: Object.fromEntries([...document.querySelectorAll('.tile')].map(t => [t.dataset.camera,
            {state: t.dataset.state, wall: t.dataset.wall ? Number(t.dataset.wall) : null,
             frames: t.querySelector('video') ?
                 t.querySelector('video').getVideoPlaybackQuality().totalVideoFrames : 0}]))})""")
    )


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_grid_plays_four_cameras_on_one_clock_and_seeks_across_a_gap(
    grid_served: Served, browser: Any, size: dict[str, int]
) -> None:
    name = "desktop" if size is DESKTOP else "phone"
    context = browser.new_context(viewport=size)
    page = context.new_page()
    watch = Watch(page)
    _login(grid_served, page, "investigator")
    for cam in GRID4.split(","):  # ticked in the camera list
        page.check(f"tr[data-camera={cam}] input.pick")
    page.click("#open-grid")
    page.wait_for_url("**/ui/grid?cameras=cam-a&cameras=cam-b**")
    assert page.locator("#grid.grid-2 .tile").count() == 4
    watch.leave()  # its tiles are loading (5 minutes ago: nothing recorded) when the test moves on
    page.goto(f"{grid_served.url}/ui/grid?cameras={GRID4}&at=2025-03-14T16:00:02")
    assert page.locator(".tile").evaluate_all("ts => ts.map(t => t.dataset.camera)") == GRID4.split(",")
    _until(page, "document.getElementById('grid').dataset.running === 'yes'", 30)
    start = T0.timestamp() * 1000 + 2000
    worst = 0.0
    for _ in range(12):  # ~4 s of playing, sampled every ~0.3 s
        page.wait_for_timeout(300)
        snap = _snapshot(page)
        walls = {cam: t["wall"] for cam, t in snap["tiles"].items()}
        assert all(w is not None for w in walls.values()), snap
        worst = max(worst, *(abs(w - snap["clock"]) for w in walls.values()))
        assert worst <= 500, snap
    assert snap["clock"] > start + 3000 and all(t["frames"] > 0 for t in snap["tiles"].values()), snap
    print(f"grid {name}: worst tile drift {worst:.0f} ms over 4 s")
    _shot(grid_served, page, f"{name}-grid-2x2-playing")
    page.fill("#grid-at", "2025-03-14T16:01:50")  # cam-a: 10 s after its outage ended; cam-b has nothing
    target = T0.timestamp() * 1000 + 110_000
    with watch.seek():  # fragments in flight at the click are cancelled by the players (Watch.seek)
        clicked = time.monotonic()
        page.click("#grid-seek")
        # click-to-first-frame: cam-a shows a decoded frame of the new instant (its playingDate past the target)
        _until(page, f"Number(document.querySelector('.tile[data-camera=cam-a]').dataset.wall || 0) >= {target}", 30)
        print(f"grid {name}: seek click to cam-a's first frame at the new instant {time.monotonic() - clicked:.2f} s")
        _until(
            page,
            f"Number(document.getElementById('grid').dataset.clock) > {target + 1000} && "
            "document.querySelector('.tile[data-camera=cam-a]').dataset.state === 'playing'",
            30,
        )
    page.wait_for_timeout(1000)
    snap = _snapshot(page)
    for cam in ("cam-a", "cam-c", "kota-1"):
        wall = snap["tiles"][cam]["wall"]
        assert wall is not None and target <= wall and abs(wall - snap["clock"]) <= 500, (cam, snap)
    assert snap["tiles"]["cam-b"]["state"] == "gap" and snap["tiles"]["cam-b"]["wall"] is None
    assert T("js.nothing_recorded_at", at="").strip() in page.inner_text(".tile[data-camera=cam-b] .tile-note")
    _shot(grid_served, page, f"{name}-grid-after-seek")
    watch.leave()
    page.click("#logout")
    page.wait_for_url(f"{grid_served.url}/ui/login")
    assert watch.problems == []
    context.close()


def test_grid_3x3_with_an_h265_camera(grid_served: Served, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page)
    _login(grid_served, page, "investigator")
    page.goto(f"{grid_served.url}/ui/grid?cameras={GRID4},cam-h&at=2025-03-14T16:00:02")
    assert page.locator("#grid.grid-3 .tile").count() == 5
    tile = page.locator(".tile[data-camera=cam-h]")
    assert tile.get_attribute("data-state") == "unplayable" and tile.get_attribute("data-codec") == "hevc"
    assert tile.locator("video").count() == 0 and "tidak dapat diputar di Chromium" in tile.inner_text()
    links = tile.locator("a.segment-download")
    assert links.count() == 4  # 16:00:02-16:00:10: the segments from the grid's instant on
    with page.expect_download() as dl:
        links.first.click()
    body = Path(dl.value.path()).read_bytes()
    first = grid_served.env.deps.search.playlist_segments(
        grid_served.env.deps.identity.authenticate(grid_served.env.tokens["investigator"]),
        "cam-h",
        int(T0.timestamp() * 1e6) + 2_000_000,
        int(T0.timestamp() * 1e6) + 4_000_000,
    )[0]
    assert hashlib.sha256(body).hexdigest() == first.sha256  # the exact stored bytes
    _until(page, "document.getElementById('grid').dataset.running === 'yes'", 30)
    _shot(grid_served, page, "desktop-grid-3x3-h265")
    for url in ("/ui/grid?cameras=cam-a,mall-1", "/ui/grid?cameras=nope"):  # another owner's camera, a missing one
        assert context.request.get(grid_served.url + url).status == 404, url
    assert (
        context.request.get(grid_served.url + "/ui/grid?cameras=" + ",".join(f"c{i}" for i in range(10))).status == 422
    )
    watch.leave()
    page.click("#logout")
    page.wait_for_url(f"{grid_served.url}/ui/login")
    assert watch.problems == []
    context.close()
    page = browser.new_context(viewport=DESKTOP).new_page()  # admin and auditor: no playback, no grid
    for role in ("admin", "auditor"):
        _login(grid_served, page, role)
        assert page.context.request.get(f"{grid_served.url}/ui/grid?cameras=cam-a").status == 403
        page.click("#logout")
    page.context.close()


def test_grid_near_live_follows_appended_segments(grid_served: Served, browser: Any) -> None:
    clips = make_clips(grid_served.shots.parent / "clips", 70)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=20)
    _record(grid_served.env, "cam-l", clips[:10], start)  # the last 20 s
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page)
    _login(grid_served, page, "investigator")
    page.goto(f"{grid_served.url}/ui/grid?cameras=cam-l&live=1")
    _until(page, "document.querySelector('.tile[data-camera=cam-l]').dataset.state === 'playing'", 30)
    page.wait_for_timeout(max(0.0, (start + timedelta(seconds=30) - datetime.now(UTC)).total_seconds()) * 1000)
    _record(grid_served.env, "cam-l", clips[10:15], start + 10 * CLIP)  # the recorder goes on (past 10 s)
    page.wait_for_timeout(6000)  # the clock passes the first playlist's end: only the reloaded one has more
    snap = _snapshot(page)
    wall = snap["tiles"]["cam-l"]["wall"]
    first_end = (start + 10 * CLIP).timestamp() * 1000
    assert wall is not None and wall > first_end and abs(wall - snap["clock"]) <= 500, snap
    _shot(grid_served, page, "desktop-grid-live")
    watch.leave()
    page.click("#logout")
    page.wait_for_url(f"{grid_served.url}/ui/login")
    assert watch.problems == []
    context.close()
