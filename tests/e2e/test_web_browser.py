"""The pages in a real browser: Debian's chromium driven by Playwright (``executable_path``, never
``playwright install``) against the real app served by uvicorn over SeaweedFS and a SQLite catalog.

Camera cam-a has real H.264 MPEG-TS segments (ffmpeg) logged by the ledger, with a real logged
outage (camera_unreachable) between two recorded runs. Asserted: a bad login shows an error and a
good one lands on the cameras; the gap lane sits at the outage with its reason; a click plays and
``video.currentTime`` advances with decoded frames; an owner never sees another owner's camera
(direct URLs too: 404); an auditor gets no footage (403, no links); no console error and no failed
request on any page; desktop and 390x844. Verify: a real built package (and a tampered copy)
uploaded in the page gets the API's status, failing step and checks; Audit: an auditor sees the
trail verified and filters it by who; Exports: the built export and its custody log in words
(with those verifications); an investigator has neither link (403 by URL). Screenshots
go to the test's tmp folder.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from archive.api.app import create_app
from archive.api.deps import ApiDeps, ApiSettings
from archive.cli.main import main as cli_main
from archive.export.verifier.formats import fingerprint
from archive.integrity import GapReason, MediaInfo
from archive.ledger import SegmentFacts
from archive.search.model import CameraQuery
from archive.storage.base import LockMode, ObjectStore, Retention
from archive.web import web_pages
from archive.web.i18n import translator
from tests.fixtures.ports import free_port
from tests.integration.api_support import MEDIA, ApiEnv, make_env
from tests.integration.export_support import make_clips
from tests.integration.test_web_evidence import built_package

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)  # 16:00 WIB
CLIP = timedelta(seconds=2)
OUTAGE = (T0 + 20 * CLIP, T0 + 20 * CLIP + timedelta(seconds=60))
DAY = "2025-03-14"
HOLE = (T0 + 5 * CLIP, T0 + 10 * CLIP)  # cam-b: neither segment nor gap entry
DAY_MS = (int((T0 - timedelta(hours=16)).timestamp() * 1000), int((T0 + timedelta(hours=8)).timestamp() * 1000))
DESKTOP, PHONE = {"width": 1920, "height": 1080}, {"width": 390, "height": 844}
T = translator("id")  # the users chose no language: the pages speak Bahasa Indonesia


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments, with the machine's chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--autoplay-policy=no-user-gesture-required"]}


def _record(env: ApiEnv, camera: str, clips: list[bytes], start: datetime, media: MediaInfo = MEDIA) -> None:
    for i, body in enumerate(clips):
        begin = start + i * CLIP
        key = f"{camera}/{begin:%Y/%m/%d/%H%M%S}.ts"
        put = env.store.put_bytes(env.media, key, body, content_type="video/mp2t",
                                  retention=Retention(LockMode.GOVERNANCE, datetime.now(UTC) + timedelta(days=1)))
        facts = SegmentFacts(object_key=key, version_id=put.version_id, sha256=hashlib.sha256(body).hexdigest(),
                             size=len(body), start=begin, end=begin + CLIP, duration_us=2_000_000, media=media)
        env.ledger.append_segment(camera, facts)


@dataclass
class Served:
    env: ApiEnv
    url: str
    shots: Path
    seen: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def served(s3_store: ObjectStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with world(s3_store, tmp_path_factory) as out:
        yield out


@contextmanager
def world(s3_store: ObjectStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The recordings described in the module docstring, served: one world per test module."""
    tmp = tmp_path_factory.mktemp("web")
    env = make_env(f"sqlite:///{tmp / 'catalog.sqlite3'}", s3_store, tmp, with_recordings=False)
    clips = make_clips(tmp / "clips", 20)
    _record(env, "cam-a", clips, T0)
    env.ledger.append_gap("cam-a", OUTAGE[0], OUTAGE[1], GapReason.CAMERA_UNREACHABLE, "no route to host")
    _record(env, "cam-a", clips, OUTAGE[1])
    _record(env, "mall-1", clips[:5], T0)
    _record(env, "cam-b", clips[:5], T0)  # 16:00:00-16:00:10 WIB, then a hole nothing was logged for
    _record(env, "cam-b", clips[:5], HOLE[1])  # 16:00:20-16:00:30 WIB
    with serve(env.deps, env.store) as url:
        yield Served(env, url, tmp / "screenshots")
    env.engine.dispose()


@contextmanager
def serve(deps: ApiDeps, store: ObjectStore) -> Iterator[str]:
    """The API and the pages of ``deps`` (playback from ``store``) served by uvicorn on a free
    loopback port: its base URL."""
    port = free_port()
    app = create_app(deps, pages=web_pages(store.get_bytes))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class Watch:
    """Console errors, page errors, failed requests and 4xx/5xx answers of one page."""

    def __init__(self, page: Any, allowed: set[tuple[str, int]] | None = None) -> None:
        self.problems: list[str] = []
        self.allowed = allowed or set()
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        self._page = page
        self.leaving = False
        self.seeking = False

    def _failed(self, r: Any) -> None:
        # Requests still in flight when the test leaves a page (hls.js fetching the next segment when
        # "Log out" is clicked; after the logout its fetch is redirected to /ui/login) are aborted by
        # the navigation: that is leaving, not a failure. Every other failed request counts.
        if self.leaving and r.failure == "net::ERR_ABORTED":
            return
        # A seek makes the player cancel the media fetches it no longer needs (hls.js aborts the
        # fragment in flight when the new instant lies outside it): the user's own doing, not a
        # failure. Only media fetches, only aborts, only while the test seeks.
        if self.seeking and r.failure == "net::ERR_ABORTED" and "/ui/media/" in r.url:
            return
        self.problems.append(f"failed: {r.url} {r.failure}")

    @contextmanager
    def seek(self) -> Iterator[None]:
        """The test seeks the player(s): media fetches they abort meanwhile are expected."""
        self.seeking = True
        try:
            yield
        finally:
            self.seeking = False

    def leave(self) -> None:
        """The test is about to navigate away: aborts from now until the next page load are expected."""
        self.leaving = True
        self._page.once("load", lambda *_: setattr(self, "leaving", False))

    def _response(self, r: Any) -> None:
        path = r.url.split("//", 1)[1].split("/", 1)[1].split("?", 1)[0]
        if r.status >= 400 and ("/" + path, r.status) not in self.allowed:
            self.problems.append(f"{r.status}: {r.url}")


def _until(page: Any, js: str, timeout_s: float = 20) -> None:
    """Poll ``js`` until it is true (wait_for_function would eval, which the pages' CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(js):
        assert time.monotonic() < deadline, f"not true within {timeout_s} s: {js}"
        page.wait_for_timeout(100)


def _shot(served: Served, page: Any, name: str) -> None:
    served.shots.mkdir(parents=True, exist_ok=True)
    path = served.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    served.seen.append(str(path))


def _login(served: Served, page: Any, role: str) -> None:
    page.goto(f"{served.url}/ui/login")
    page.fill("#token", served.env.tokens[role])
    page.click("#login")
    page.wait_for_url(f"{served.url}/ui/cameras")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_login_timeline_gap_and_playback(served: Served, browser: Any, size: dict[str, int]) -> None:
    name = "desktop" if size is DESKTOP else "phone"
    context = browser.new_context(viewport=size)
    page = context.new_page()
    watch = Watch(page, allowed={("/ui/login", 401)})  # checked and cleared right after
    page.goto(f"{served.url}/ui/cameras")
    page.wait_for_url(f"{served.url}/ui/login")  # no session: the login form
    page.fill("#token", "arc1_nobody_notasecret")
    page.click("#login")
    assert T("login.bad_token") in page.inner_text("#login-error")
    # the refused login is answered 401 (audited auth.failed); chromium logs that status of the
    # document itself: the only problem allowed, once, on this one answer
    assert watch.problems == ["console: Failed to load resource: the server responded with a status of 401 "
                              "(Unauthorized)"]
    watch.problems.clear()
    _shot(served, page, f"{name}-login-error")
    _login(served, page, "investigator")
    assert page.locator("tr[data-camera=cam-a]").count() == 1 and page.locator("tr[data-camera=mall-1]").count() == 0
    page.fill("#q", "Brawijaya")  # htmx text search replaces the rows
    _until(page, "!document.querySelector('tr[data-camera=cam-a]')")
    assert page.locator("tr[data-camera=cam-b]").count() == 1
    _shot(served, page, f"{name}-cameras")
    page.goto(f"{served.url}/ui/cameras/cam-a?day={DAY}")
    page.wait_for_selector("#timeline[data-ready=yes]")
    gap = page.locator("#lane-gap .bar-gap")
    assert gap.count() == 1
    assert int(gap.get_attribute("data-start") or 0) == int(OUTAGE[0].timestamp() * 1000)
    assert int(gap.get_attribute("data-end") or 0) == int(OUTAGE[1].timestamp() * 1000)
    assert gap.get_attribute("data-reason") == "camera_unreachable"
    title = gap.get_attribute("title") or ""
    assert T("reason.camera_unreachable") in title and "no route to host" in title and "16:00:40 WIB" in title
    assert "2025-03-14T09:00:40.000000Z" in title  # UTC on hover
    left = page.evaluate("parseFloat(document.querySelector('#lane-gap .bar-gap').style.left)")
    assert abs(left - (16 * 3600 + 40) / 86400 * 100) < 0.01  # 16:00:40 WIB on the day axis
    assert page.locator("#lane-recorded .bar-recorded").count() == 2
    box = page.locator("#timeline").bounding_box()
    assert box is not None
    x = box["x"] + box["width"] * (16 * 3600 + 10) / 86400  # 16:00:10 WIB, inside the first recorded run
    page.mouse.click(x, box["y"] + box["height"] / 2)
    _until(page, "document.getElementById('video').currentTime > 0.5")
    first = page.evaluate("document.getElementById('video').currentTime")
    page.wait_for_timeout(1500)
    later = page.evaluate("document.getElementById('video').currentTime")
    frames = page.evaluate("document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames")
    assert later > first and frames > 0
    wall = int(page.get_attribute("#now-playing", "data-wall") or 0)
    assert T0.timestamp() * 1000 <= wall < OUTAGE[0].timestamp() * 1000  # before the outage, on the wall clock
    _shot(served, page, f"{name}-timeline-playing")
    watch.leave()  # the video is still loading segments
    page.click("#logout")
    page.wait_for_url(f"{served.url}/ui/login")
    assert watch.problems == []
    context.close()


def test_owner_never_sees_another_owners_camera(served: Served, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page)
    _login(served, page, "owner")
    assert page.locator("tr[data-camera]").evaluate_all("rows => rows.map(r => r.dataset.camera)") == ["mall-1"]
    _shot(served, page, "owner-cameras")
    page.goto(f"{served.url}/ui/cameras/mall-1?day={DAY}")
    page.wait_for_selector("#timeline[data-ready=yes]")
    assert page.locator("#video").count() == 1
    for url in ("/ui/cameras/cam-a", f"/ui/cameras/cam-a/day.json?day={DAY}", "/ui/media/cam-a/0",
                "/ui/cameras/cam-a/playlist.m3u8?start=2025-03-14T09:00:00Z&end=2025-03-14T09:10:00Z"):
        assert context.request.get(served.url + url).status == 404, url
    assert watch.problems == []
    context.close()


def test_auditor_gets_no_footage(served: Served, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    watch = Watch(page)
    _login(served, page, "auditor")
    assert page.locator("tr[data-camera=cam-a]").count() == 1
    assert page.locator("a[href^='/ui/cameras/']").count() == 0 and T("cameras.last", zone="WIB") not in page.content()
    _shot(served, page, "auditor-cameras")
    for url in ("/ui/cameras/cam-a", "/ui/media/cam-a/0",
                "/ui/cameras/cam-a/playlist.m3u8?start=2025-03-14T09:00:00Z&end=2025-03-14T09:10:00Z"):
        assert context.request.get(served.url + url).status == 403, url
    assert watch.problems == []
    context.close()
    page = browser.new_context(viewport=DESKTOP).new_page()  # admin: lanes, but no player (no playback)
    watch = Watch(page)
    _login(served, page, "admin")
    page.goto(f"{served.url}/ui/cameras/cam-a?day={DAY}")
    page.wait_for_selector("#timeline[data-ready=yes]")
    assert page.locator("#video").count() == 0 and page.locator("#lane-gap .bar-gap").count() == 1
    _shot(served, page, "admin-timeline")
    assert watch.problems == []


def test_verify_and_audit_pages(served: Served, browser: Any, tmp_path: Path) -> None:
    served.env.ledger.checkpoint("cam-a")
    eid, data = built_package(served.env, "cam-a")
    tampered = bytearray(data)
    tampered[len(data) // 3] ^= 0x01
    files = {"valid": tmp_path / "case.zip", "tampered": tmp_path / "tampered.zip"}
    files["valid"].write_bytes(data)
    files["tampered"].write_bytes(bytes(tampered))
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page)
    _login(served, page, "legal")
    assert page.locator("#nav-verify").count() == 1 and page.locator("#nav-audit").count() == 0
    page.click("#nav-verify")
    page.wait_for_url(f"{served.url}/ui/verify")
    for name, path in files.items():
        api = context.request.post(f"{served.url}/api/v1/exports/verify", data=path.read_bytes(),
                                   headers={"Authorization": f"Bearer {served.env.tokens['legal']}"}).json()
        page.set_input_files("#package", str(path))
        page.click("#verify")
        page.wait_for_selector(f"#verdict-card[data-status={api['status']}]")
        assert api["status"] == ("VALID" if name == "valid" else "INVALID")
        step = page.get_attribute("#verdict-card", "data-failed-step")
        assert step == ("" if api["failed_step"] is None else str(api["failed_step"]))
        assert page.locator("tr.check").count() == len(api["checks"])
        assert page.locator("tr.check[data-ok=no]").count() == sum(1 for c in api["checks"] if not c["ok"])
        _shot(served, page, f"legal-verify-{name}")
    page.click("#nav-exports")
    page.click(f"tr[data-export='{eid}'] a")
    page.wait_for_url(f"{served.url}/ui/exports/{eid}")
    assert page.get_attribute("#export", "data-status") == "built"
    custody = page.locator("#custody li").all_inner_texts()
    assert "requested the export of cameras cam-a" in custody[0] and "stored the package file" in custody[4]
    assert sum("verified" in x for x in custody) == 4, custody  # two uploads in the page, two over the API
    _shot(served, page, "legal-export-custody")
    assert watch.problems == []
    context.close()
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    watch = Watch(page)
    _login(served, page, "auditor")
    page.click("#nav-audit")
    page.wait_for_url(f"{served.url}/ui/audit")
    assert page.get_attribute("#audit-check", "data-ok") == "yes" and page.locator("tr[data-seq]").count() > 0
    page.fill("#f-actor", "legal1")
    page.click("#filter")
    page.wait_for_url("**/ui/audit?actor=legal1**")
    actors = page.locator("tr[data-seq]").evaluate_all("rows => rows.map(r => r.dataset.actor)")
    assert actors and set(actors) == {"legal1"}
    assert page.locator("tr[data-action='exports.verify']").count() == 2  # the API's two uploads above
    _shot(served, page, "auditor-audit")
    assert watch.problems == []
    context.close()
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watch = Watch(page)
    _login(served, page, "investigator")
    assert page.locator("#nav-verify").count() == 0 and page.locator("#nav-audit").count() == 0
    for url in ("/ui/verify", "/ui/audit"):
        assert context.request.get(served.url + url).status == 403, url
    assert watch.problems == []
    context.close()


def test_the_configured_zone_is_shown_with_its_abbreviation(served: Served, browser: Any) -> None:
    """[api] display_timezone = Asia/Makassar: the day axis starts at 00:00 WITA and every
    browser-formatted instant says WITA (zoneinfo's abbreviation), UTC on hover."""
    settings = ApiSettings(display_timezone="Asia/Makassar", failed_auth_limit=0)
    with serve(replace(served.env.deps, settings=settings), served.env.store) as url:
        page = browser.new_context(viewport=DESKTOP).new_page()
        watch = Watch(page)
        there = Served(served.env, url, served.shots)
        _login(there, page, "investigator")
        page.goto(f"{url}/ui/cameras/cam-a?day={DAY}")
        page.wait_for_selector("#timeline[data-ready=yes]")
        assert page.inner_text("#day") == f"{DAY} (WITA)"
        title = page.locator("#lane-gap .bar-gap").get_attribute("title") or ""
        assert "17:00:40 WITA" in title and "WIB" not in title and "2025-03-14T09:00:40.000000Z" in title
        left = page.evaluate("parseFloat(document.querySelector('#lane-gap .bar-gap').style.left)")
        assert abs(left - (17 * 3600 + 40) / 86400 * 100) < 0.01  # 17:00:40 WITA on the day axis
        box = page.locator("#timeline").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] * (17 * 3600 + 10) / 86400, box["y"] + box["height"] / 2)
        _until(page, "document.getElementById('now-playing').dataset.wall !== undefined")
        label = page.inner_text("#now-playing")
        assert " WITA (UTC 2025-03-14T09:00:" in label, label
        _shot(there, page, "makassar-timeline-playing")
        watch.leave()
        page.context.close()
        assert watch.problems == []


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def test_unaccounted_time_has_its_own_lane_never_recorded(served: Served, browser: Any) -> None:
    """Time with neither a segment nor a gap entry (before the first segment, a hole between two
    runs, after the last one) is drawn in the 'unaccounted' lane, from the server's merged
    intervals (one bar per interval), and never overlaps a recorded bar."""
    page = browser.new_context(viewport=DESKTOP).new_page()
    watch = Watch(page)
    _login(served, page, "investigator")
    page.goto(f"{served.url}/ui/cameras/cam-b?day={DAY}")
    page.wait_for_selector("#timeline[data-ready=yes]")
    spans = page.locator("#lane-unaccounted .bar-unaccounted").evaluate_all(
        "bars => bars.map(b => [Number(b.dataset.start), Number(b.dataset.end), b.title])")
    assert [(a, b) for a, b, _ in spans] == [(DAY_MS[0], _ms(T0)), (_ms(HOLE[0]), _ms(HOLE[1])),
                                             (_ms(HOLE[1] + 5 * CLIP), DAY_MS[1])]
    assert T("lane.unaccounted") in spans[1][2] and "16:00:10 WIB" in spans[1][2]
    assert "2025-03-14T09:00:10Z" in spans[1][2]
    recorded = page.locator("#lane-recorded .bar-recorded").evaluate_all(
        "bars => bars.map(b => [Number(b.dataset.start), Number(b.dataset.end)])")
    assert recorded == [[_ms(T0), _ms(HOLE[0])], [_ms(HOLE[1]), _ms(HOLE[1] + 5 * CLIP)]]
    assert all(b <= a2 or b2 <= a for a, b, _ in spans for a2, b2 in recorded)
    assert page.locator("#lane-gap .bar-gap").count() == 0
    _shot(served, page, "investigator-timeline-unaccounted")
    page.set_viewport_size(PHONE)
    _shot(served, page, "phone-timeline-unaccounted")
    page.context.close()
    assert watch.problems == []


def test_holds_page_place_with_a_field_error_then_release(served: Served, browser: Any) -> None:
    """In the browser: a bad range is refused naming the field with what was typed kept; the hold
    is placed, shown, and released by a legal user in another context; an owner has no link."""
    page = browser.new_context(viewport=DESKTOP).new_page()
    watch = Watch(page, allowed={("/ui/holds", 400)})
    _login(served, page, "investigator")
    page.click("#nav-holds")
    page.wait_for_url(f"{served.url}/ui/holds")
    page.fill("#h-case", "LP/55/2025")
    page.fill("#h-reason", "robbery near the junction")
    page.fill("#h-cameras", "cam-a")
    page.fill("#h-start", "2025-03-14T16:30")
    page.fill("#h-end", "2025-03-14T16:00")
    page.click("#h-place")
    page.wait_for_selector(".field-error[data-field=end]")
    assert page.input_value("#h-case") == "LP/55/2025" and page.input_value("#h-start") == "2025-03-14T16:30"
    _shot(served, page, "investigator-holds-error")
    watch.problems = [p for p in watch.problems if "status of 400" not in p]  # the refused form's own answer
    page.fill("#h-end", "2025-03-14T17:00")
    page.click("#h-place")
    page.wait_for_selector("#placed")
    hold_id = int(page.url.rsplit("=", 1)[1])
    assert "robbery near the junction" in page.inner_text(f"tr[data-hold='{hold_id}']")
    assert page.locator(f"#release-{hold_id}").count() == 0  # investigators do not release
    _shot(served, page, "investigator-holds")
    assert watch.problems == []
    other = browser.new_context(viewport=PHONE).new_page()
    watch2 = Watch(other)
    _login(served, other, "legal")
    other.click("#nav-holds")
    other.wait_for_url(f"{served.url}/ui/holds")
    assert other.locator("#retention-plan").count() == 1 and other.locator("#hold-form").count() == 0
    _shot(served, other, "phone-legal-holds")
    other.fill(f"#release-{hold_id} input[name=reason]", "suspect charged, footage exported")
    other.click(f"#release-{hold_id} button")
    other.wait_for_url(f"{served.url}/ui/holds")
    assert other.locator(f"tr[data-hold='{hold_id}']").count() == 0
    assert watch2.problems == []
    page.reload()
    assert page.locator(f"tr[data-hold='{hold_id}']").count() == 0
    page.context.close()
    other.context.close()
    owner = browser.new_context(viewport=DESKTOP).new_page()
    _login(served, owner, "owner")
    assert owner.locator("#nav-holds").count() == 0
    assert owner.context.request.get(f"{served.url}/ui/holds").status == 403
    owner.context.close()


def test_export_requested_approved_by_another_user_downloaded_and_verified(served: Served, browser: Any,
                                                                           tmp_path: Path) -> None:  # fmt: skip
    """An investigator requests an export in one browser context (typed times, a field error
    first), an admin approves it from the queue in another; the investigator's page follows the
    build by itself (htmx poll) to the download link; the downloaded file passes
    ``archive verify package`` with the archive's keys pinned."""
    env = served.env
    assert env.exports is not None
    env.ledger.checkpoint("cam-a")
    env.exports.service.on_approved = env.exports.runner.submit
    env.exports.runner.start()
    inv = browser.new_context(viewport=DESKTOP, accept_downloads=True).new_page()
    watch = Watch(inv, allowed={("/ui/exports", 400)})
    _login(served, inv, "investigator")
    inv.goto(f"{served.url}/ui/cameras/cam-a?day={DAY}")  # the range from a click on the timeline
    inv.wait_for_selector("#timeline[data-ready=yes]")
    box = inv.locator("#timeline").bounding_box()
    assert box is not None
    inv.mouse.click(box["x"] + box["width"] * (16 * 3600 + 5) / 86400, box["y"] + box["height"] / 2)
    watch.leave()  # the click also started playback
    inv.click("#request-export")
    inv.wait_for_url(f"{served.url}/ui/exports/new?**")
    assert inv.input_value("#x-cameras") == "cam-a"
    start = datetime.fromisoformat(inv.input_value("#x-start"))  # the clicked instant on the WIB wall clock
    clicked = datetime(2025, 3, 14, 16, 0, 5)
    assert abs((start - clicked).total_seconds()) <= 86400 / box["width"] + 1, start  # one pixel of the day axis
    assert datetime.fromisoformat(inv.input_value("#x-end")) - start == timedelta(minutes=5)
    inv.goto(f"{served.url}/ui/exports")
    inv.click("#new-export")
    inv.wait_for_url(f"{served.url}/ui/exports/new")
    inv.fill("#x-cameras", "cam-a")
    inv.fill("#x-start", "2025-03-14T16:00:00")
    inv.fill("#x-end", "2025-03-14T15:00:00")
    inv.fill("#x-case", "LP/99/III/2025")
    inv.fill("#x-basis", "KUHAP Pasal 184")
    inv.fill("#x-reason", "collision at the junction")
    inv.click("#x-request")
    inv.wait_for_selector(".field-error[data-field=end]")
    assert inv.input_value("#x-case") == "LP/99/III/2025"
    watch.problems = [p for p in watch.problems if "status of 400" not in p]
    _shot(served, inv, "investigator-export-form-error")
    inv.fill("#x-end", "2025-03-14T16:00:30")
    inv.click("#x-request")
    inv.wait_for_selector("#export-progress[data-status=requested]")
    eid = inv.url.rsplit("/", 1)[1]
    admin = browser.new_context(viewport=PHONE).new_page()
    watch2 = Watch(admin)
    _login(served, admin, "admin")
    admin.click("#nav-exports")
    admin.click(f"#queue li[data-export='{eid}'] a")
    admin.wait_for_url(f"{served.url}/ui/exports/{eid}")
    _shot(served, admin, "phone-admin-export-decision")
    admin.fill("#d-reason", "lawful request, case number checked")
    watch2.leave()  # the page polls its progress; the form's navigation may abort a poll or its refresh
    admin.click("#approve")
    admin.wait_for_url(f"{served.url}/ui/exports/{eid}")
    assert admin.locator("#decision-form").count() == 0 and admin.locator("#download").count() == 0  # no footage
    assert watch2.problems == []
    admin.context.close()
    inv.wait_for_selector("#download", timeout=60_000)  # no reload: the poll brought it
    assert inv.get_attribute("#export-progress", "data-status") == "built"
    assert "dishub: approved (admin, by admin1" in inv.inner_text("#export")  # drawn again, not left stale
    custody = inv.locator("#custody li").all_inner_texts()
    assert any("approved" in x for x in custody) and any("stored the package file" in x for x in custody), custody
    _shot(served, inv, "investigator-export-built")
    with inv.expect_download() as got:
        inv.click("#download")
    path = tmp_path / "package.zip"
    got.value.save_as(str(path))
    assert watch.problems == []
    inv.context.close()
    env.exports.runner.stop()
    prefix = env.ledger.settings.origin_prefix
    vk = env.ledger.export_keys.active().log_key(f"{prefix}/export")
    cam = env.ledger.keys.active().public
    trust = ["--trust", f"export={fingerprint(vk.public_key)}", "--trust", f"camera={fingerprint(cam.public_key)}"]
    assert cli_main(["verify", "package", str(path), *trust, "--quiet"]) == 0


def test_map_outline_cameras_filters_and_who_saw_this_place(served: Served, browser: Any) -> None:
    """The map draws Indonesia's outline offline, the user's cameras at their positions with their
    addresses and status, filters by owner and tag, and a circle + range asks the sightings search
    (a bad range names the field). An owner sees only its camera; an auditor gets no sightings form."""
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browser.new_context(viewport=size).new_page()
        watch = Watch(page, allowed={("/ui/map/sightings.json", 400)})
        _login(served, page, "investigator")
        page.click("#nav-map")
        page.wait_for_url(f"{served.url}/ui/map")
        page.wait_for_selector("#map[data-ready=yes]")
        outline = page.get_attribute("path.land-id[data-country=Indonesia]", "d") or ""
        assert len(outline) > 1000  # the outline, offline
        shown = page.locator("#cams g.cam").evaluate_all("gs => gs.map(g => g.dataset.camera)")
        who = served.env.identity.authenticate(served.env.tokens["investigator"])
        assert sorted(shown) == sorted(h.id for h in served.env.deps.search.cameras(who, CameraQuery(limit=500)))
        assert "mall-1" not in shown
        assert page.text_content("g.cam[data-camera=cam-a] text") == "Jl. Mojopahit"
        assert page.get_attribute("g.cam[data-camera=cam-a]", "data-status") == "no recent segment"  # 2025 footage
        a = page.locator("g.cam[data-camera=cam-a] circle").bounding_box()
        b = page.locator("g.cam[data-camera=kota-1] circle").bounding_box()
        assert a is not None and b is not None and b["y"] < a["y"] and b["x"] > a["x"]  # kota-1 is north-east
        page.select_option("#f-tag", "square")
        assert page.locator("#cams g.cam").evaluate_all("gs => gs.map(g => g.dataset.camera)") == ["kota-1"]
        page.select_option("#f-tag", "")
        page.select_option("#f-owner", "dishub")
        cams = set(page.locator("#cams g.cam").evaluate_all("gs => gs.map(g => g.dataset.camera)"))
        assert cams == {"cam-a", "cam-b"}
        page.select_option("#f-owner", "")
        page.click("#zoom-out")
        assert page.get_attribute("path.land-id[data-country=Indonesia]", "d") != outline  # drawn again, smaller
        page.click("#zoom-fit")
        page.locator("g.cam[data-camera=cam-a] circle").click(force=True)  # the centre: on cam-a (scrolled into view)
        per_px = 0.15 * 1.3 / (page.locator("#map").bounding_box() or {"height": 1})["height"]  # degrees per pixel
        assert abs(float(page.input_value("#s-lat")) + 7.4722) <= 2 * per_px + 1e-4
        assert abs(float(page.input_value("#s-lon")) - 112.4338) <= 4 * per_px + 1e-4
        page.fill("#s-lat", "-7.4722")  # typed exactly (a pixel is ~10-50 m here)
        page.fill("#s-lon", "112.4338")
        page.fill("#s-radius", "150")
        page.fill("#s-start", "2025-03-14T16:00")
        page.fill("#s-end", "2025-03-14T15:00")
        page.click("#s-ask")
        page.wait_for_selector("#sight-error:not([hidden])")
        assert page.get_attribute("#sight-error", "data-field") == "end"
        watch.problems = [p for p in watch.problems if "status of 400" not in p]
        page.fill("#s-end", "2025-03-14T16:05")
        page.click("#s-ask")
        page.wait_for_selector("#sightings li[data-camera=cam-a]")
        text = page.inner_text("#sightings li[data-camera=cam-a]")
        assert "terekam 80 dtk" in text and T("reason.camera_unreachable") in text, text
        assert page.locator("#sightings li[data-camera=kota-1]").count() == 0  # 1.6 km away
        _shot(served, page, f"{name}-map")
        assert watch.problems == [], watch.problems
        page.context.close()
    page = browser.new_context(viewport=DESKTOP).new_page()
    _login(served, page, "owner")
    page.goto(f"{served.url}/ui/map")
    page.wait_for_selector("#map[data-ready=yes]")
    assert page.locator("#cams g.cam").evaluate_all("gs => gs.map(g => g.dataset.camera)") == ["mall-1"]
    _shot(served, page, "owner-map")
    page.context.close()
    page = browser.new_context(viewport=PHONE).new_page()
    _login(served, page, "auditor")
    page.goto(f"{served.url}/ui/map")
    page.wait_for_selector("#map[data-ready=yes]")
    assert page.locator("#sight-form").count() == 0
    assert page.get_attribute("g.cam[data-camera=cam-a]", "data-status") == "enabled"  # no recordings for auditors
    url = "/ui/map/sightings.json?lat=-7.47&lon=112.43&radius_m=100&start=2025-03-14T16:00&end=2025-03-14T17:00"
    assert page.context.request.get(served.url + url).status == 403
    _shot(served, page, "auditor-map")
    page.context.close()


def test_language_switch_per_user(served: Served, browser: Any) -> None:
    """The pages open in Bahasa Indonesia; the top bar's switch turns them to English for this user
    (another browser of the same user follows), and back."""
    page = browser.new_context(viewport=PHONE).new_page()
    watch = Watch(page)
    _login(served, page, "legal")
    assert page.get_attribute("html", "lang") == "id" and page.inner_text("#nav-cameras") == "Kamera"
    _shot(served, page, "phone-cameras-id")
    page.select_option("#lang", "en")
    page.click("#lang-switch")
    page.wait_for_url(f"{served.url}/ui/cameras")
    assert page.get_attribute("html", "lang") == "en" and page.inner_text("#nav-cameras") == "Cameras"
    other = browser.new_context(viewport=DESKTOP).new_page()
    _login(served, other, "legal")
    assert other.inner_text("#logout") == "Log out"
    other.context.close()
    page.goto(f"{served.url}/ui/map")
    page.select_option("#lang", "id")
    page.click("#lang-switch")
    page.wait_for_url(f"{served.url}/ui/map")  # back to the page it was switched on
    assert page.inner_text("h1") == "Peta"
    assert watch.problems == []
    page.context.close()


def _cam_a_timeline(served: Served, browser: Any) -> tuple[Any, Watch, dict[str, float]]:
    """An investigator's desktop page on cam-a's timeline of DAY, drawn: the page, its watch and
    the timeline's bounding box."""
    page = browser.new_context(viewport=DESKTOP).new_page()
    watch = Watch(page)
    _login(served, page, "investigator")
    page.goto(f"{served.url}/ui/cameras/cam-a?day={DAY}")
    page.wait_for_selector("#timeline[data-ready=yes]")
    box = page.locator("#timeline").bounding_box()
    assert box is not None
    return page, watch, box


def test_a_click_plays_from_that_wall_clock_instant_also_after_the_gap(served: Served, browser: Any) -> None:
    """A click on the timeline starts playback at the clicked wall-clock instant (the one the page
    computes from the pixel), on every pixel that falls inside a recorded run before or after the
    outage (the gap is never collapsed: after it the wall clock is the clicked one, not 60 s early)."""
    page, watch, box = _cam_a_timeline(served, browser)
    def instant(x: int) -> float:  # what the page computes for a click at integer clientX x
        return DAY_MS[0] + (x - box["x"]) / box["width"] * 86_400_000

    runs = [(_ms(T0), _ms(T0 + 20 * CLIP)), (_ms(OUTAGE[1]), _ms(OUTAGE[1] + 20 * CLIP))]  # the two recorded runs
    px = range(int(box["x"] + box["width"] * (runs[0][0] - DAY_MS[0]) / 86_400_000) - 1,
               int(box["x"] + box["width"] * (runs[1][1] - DAY_MS[0]) / 86_400_000) + 2)  # fmt: skip
    inside = [x for x in px if any(a + 1000 <= instant(x) <= b - 3000 for a, b in runs)]
    assert inside  # one pixel of the day axis is 45 s at 1920 px; each run is 40 s
    for x in inside:
        clicked = instant(x)
        page.mouse.click(x, box["y"] + box["height"] / 2)
        _until(page, f"Math.abs(Number(document.getElementById('now-playing').dataset.wall || 0) - {clicked}) < 5000")
        page.wait_for_timeout(300)
        wall = int(page.get_attribute("#now-playing", "data-wall") or 0)
        assert 0 <= wall - clicked <= 2500, (x, wall - clicked)  # from that instant, playing on
    watch.leave()
    page.context.close()
    assert watch.problems == []


_EVERY_PAGE = {  # role -> the pages it may open (every GET page of /ui that renders HTML)
    "legal": ["/ui/map", "/ui/cameras", f"/ui/cameras/cam-a?day={DAY}", "/ui/exports", "/ui/exports/new",
              "/ui/holds", "/ui/verify"],
    "auditor": ["/ui/audit", "/ui/map", "/ui/cameras", "/ui/exports"],
    "admin": ["/ui/holds", "/ui/exports", f"/ui/cameras/cam-a?day={DAY}"],
    "owner": ["/ui/map", "/ui/cameras", f"/ui/cameras/mall-1?day={DAY}", "/ui/exports"],
}


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_at_both_sizes_without_console_errors(served: Served, browser: Any, size: dict[str, int]) -> None:
    """Each page a role may open renders at 1920x1080 and 390x844 with no console error, no failed
    request and nothing wider than the screen on the phone; a screenshot of each is kept."""
    name = "desktop" if size is DESKTOP else "phone"
    for role, urls in _EVERY_PAGE.items():
        page = browser.new_context(viewport=size).new_page()
        watch = Watch(page)
        _login(served, page, role)
        for url in urls:
            page.goto(served.url + url)
            page.wait_for_load_state("networkidle")
            if "/ui/cameras/" in url:
                page.wait_for_selector("#timeline[data-ready=yes]")
            if url == "/ui/map":
                page.wait_for_selector("#map[data-ready=yes]")
            wide = page.evaluate("document.scrollingElement.scrollWidth")
            assert wide <= size["width"] + 1, (role, url, wide)
            slug = url.strip("/").split("?")[0].replace("/", "-")
            _shot(served, page, f"every-{name}-{role}-{slug}")
        assert watch.problems == [], (role, watch.problems)
        page.context.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_map_box_drawn_by_a_drag_asks_who_saw_that_box(served: Served, browser: Any, size: dict[str, int]) -> None:
    """Box chosen, a drag on the map draws a rectangle and fills south,west,north,east; asking gives
    the cameras inside it (cam-a and cam-b, not kota-1 1.6 km away, not another owner's mall-1) with
    the same coverage the circle gives (cam-a: 80 s recorded, the logged outage)."""
    page = browser.new_context(viewport=size).new_page()
    watch = Watch(page)
    _login(served, page, "investigator")
    page.goto(f"{served.url}/ui/map")
    page.wait_for_selector("#map[data-ready=yes]")
    page.check("#s-box")
    assert page.locator("#s-bbox").is_visible() and not page.locator("#s-radius").is_visible()
    a = page.locator("g.cam[data-camera=cam-a] circle").bounding_box()
    b = page.locator("g.cam[data-camera=cam-b] circle").bounding_box()
    k = page.locator("g.cam[data-camera=kota-1] circle").bounding_box()
    assert a is not None and b is not None and k is not None
    left, right = min(a["x"], b["x"]) - 6, max(a["x"] + a["width"], b["x"] + b["width"]) + 6
    top, bottom = min(a["y"], b["y"]) - 6, max(a["y"] + a["height"], b["y"] + b["height"]) + 6
    assert not (left <= k["x"] <= right and top <= k["y"] <= bottom)  # kota-1 stays outside
    page.locator("#map").scroll_into_view_if_needed()
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move((left + right) / 2, (top + bottom) / 2, steps=4)
    page.mouse.move(right, bottom, steps=4)
    page.mouse.up()
    south, west, north, east = (float(v) for v in page.input_value("#s-bbox").split(","))
    for lat, lon in ((-7.4722, 112.4338), (-7.4730, 112.4345)):  # cam-a, cam-b inside; kota-1 not
        assert south <= lat <= north and west <= lon <= east
    assert not (south <= -7.4600 <= north and west <= 112.4400 <= east)
    drawn = page.locator("#sight-box").bounding_box()
    assert drawn is not None and abs(drawn["x"] - left) <= 3 and abs(drawn["y"] - top) <= 3
    page.fill("#s-start", "2025-03-14T16:00")
    page.fill("#s-end", "2025-03-14T16:05")
    page.click("#s-ask")
    page.wait_for_selector("#sightings[data-shape=box] li[data-camera=cam-a]")
    shown = page.locator("#sightings li[data-camera]").evaluate_all("li => li.map(x => x.dataset.camera)")
    assert shown == ["cam-a", "cam-b"], shown
    text = page.inner_text("#sightings li[data-camera=cam-a]")
    assert "terekam 80 dtk" in text and T("reason.camera_unreachable") in text, text
    _shot(served, page, f"{'desktop' if size is DESKTOP else 'phone'}-map-box")
    assert watch.problems == [], watch.problems
    page.context.close()


def test_timeline_zooms_from_the_day_to_minutes_and_back(served: Served, browser: Any) -> None:
    """The wheel over the outage zooms around the pointer (day -> hour -> minutes): the gap bar stays at
    its wall-clock instant with its reason on hover and grows; ticks follow (minutes, UTC on hover); a
    click in the zoomed axis plays from that instant and the shared playhead sits there; the buttons
    zoom around the playhead, the arrows move by half a window, "whole day" gives the day back."""
    page, watch, box = _cam_a_timeline(served, browser)
    view = lambda: (int(page.get_attribute("#timeline", "data-view-start") or 0),  # noqa: E731
                    int(page.get_attribute("#timeline", "data-view-end") or 0))
    assert view() == DAY_MS
    day_width = (page.locator("#lane-gap .bar-gap").bounding_box() or {"width": 0})["width"]
    gap_ms = (_ms(OUTAGE[0]) + _ms(OUTAGE[1])) / 2
    x = round(box["x"] + box["width"] * (gap_ms - DAY_MS[0]) / 86_400_000)  # events carry whole pixels
    anchor = DAY_MS[0] + (x - box["x"]) / box["width"] * 86_400_000  # the instant under the pointer: 45 s a pixel
    page.mouse.move(x, box["y"] + box["height"] / 2)
    for _ in range(7):  # 24 h / 2^7: about 11 minutes
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(50)
    lo, hi = view()
    assert 10 * 60_000 <= hi - lo <= 12 * 60_000 and lo < _ms(OUTAGE[0]) and _ms(OUTAGE[1]) < hi, (lo, hi)
    at_pointer = lo + (x - box["x"]) / box["width"] * (hi - lo)
    assert abs(at_pointer - anchor) < 2000  # the instant under the pointer stayed under it
    gap = page.locator("#lane-gap .bar-gap")
    left = page.evaluate("parseFloat(document.querySelector('#lane-gap .bar-gap').style.left)")
    assert abs(left - (_ms(OUTAGE[0]) - lo) / (hi - lo) * 100) < 0.01  # at 16:00:40 WIB on the zoomed axis
    assert (gap.bounding_box() or {"width": 0})["width"] > 50 * day_width
    assert T("reason.camera_unreachable") in (gap.get_attribute("title") or "")
    ticks = page.locator("#axis .tick").evaluate_all("ts => ts.map(t => [t.textContent, t.title])")
    assert ["16:00", "2025-03-14T09:00:00Z"] in ticks and len(ticks) >= 5, ticks
    target = _ms(T0) + 10_000  # 16:00:10 WIB, in the first recorded run
    page.mouse.click(box["x"] + box["width"] * (target - lo) / (hi - lo), box["y"] + box["height"] / 2)
    _until(page, f"Math.abs(Number(document.getElementById('now-playing').dataset.wall || 0) - {target}) < 3000")
    head = page.locator("#playhead").bounding_box()
    wall = int(page.get_attribute("#now-playing", "data-wall") or 0)
    assert head is not None and abs(head["x"] - (box["x"] + box["width"] * (wall - lo) / (hi - lo))) < 12
    page.click("#t-zoom-out")
    lo2, hi2 = view()
    assert hi2 - lo2 == 4 * (hi - lo) and lo2 <= wall <= hi2  # around the playhead
    page.click("#t-later")
    assert view()[0] - lo2 == (hi2 - lo2) // 2
    _shot(served, page, "investigator-timeline-zoomed")
    page.click("#t-zoom-day")
    assert view() == DAY_MS
    for _ in range(3):
        page.click("#t-zoom-out")  # never beyond the day
    assert view() == DAY_MS
    watch.leave()
    page.context.close()
    assert watch.problems == [], watch.problems
