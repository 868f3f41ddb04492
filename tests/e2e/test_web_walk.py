"""Every page, every role, both languages, in a real browser (Debian chromium through Playwright,
the real app over SeaweedFS and SQLite, one world for the module: the recordings of
tests/e2e/test_web_browser.py plus one built export).

- The walk: each role logs in and opens every page it may open, at 1920x1080 and 390x844: no
  console error, no failed request, nothing wider than the screen, a screenshot of each under the
  test's tmp folder; what it may not open is absent from the navigation and answers 403 or 404
  by URL (the table :data:`EXPECT`).
- The language: every page (and what our ES modules draw on it: timeline bars, the map's camera
  titles and sightings, the player, field errors, the verdict, an error page) rendered in Bahasa
  Indonesia shows no English-only word of the catalog in any text node, title, placeholder or
  aria-label outside data (``translate="no"``: names, ids, what the verifier and custody log say);
  and the reverse, in English no Indonesian-only word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.storage.base import ObjectStore
from archive.web.i18n import CATALOG, translator
from tests.e2e.test_web_browser import (
    DAY,
    DESKTOP,
    PHONE,
    Served,
    Watch,
    _login,
    _shot,
    _until,
    browser_type_launch_args,  # noqa: F401 (the machine's chromium)
    world,
)
from tests.integration.api_support import CAMERAS, OWNERS, USERS
from tests.integration.test_web_evidence import built_package

GRID = "/ui/grid?cameras=cam-a&at=2025-03-14T16:00:05"
PAGES = {  # page -> its URL ({eid}: the built export; the owner's timeline and grid use its own camera)
    "map": "/ui/map", "cameras": "/ui/cameras", "timeline": f"/ui/cameras/cam-a?day={DAY}", "grid": GRID,
    "exports": "/ui/exports", "export": "/ui/exports/{eid}", "export_new": "/ui/exports/new", "holds": "/ui/holds",
    "verify": "/ui/verify", "audit": "/ui/audit",
}  # fmt: skip
NAV = {"map": "#nav-map", "cameras": "#nav-cameras", "exports": "#nav-exports", "holds": "#nav-holds",
       "verify": "#nav-verify", "audit": "#nav-audit"}  # fmt: skip
EXPECT = {  # role -> page -> status by URL (200: opened in the browser); the policy table of archive.identity
    "admin": {"map": 200, "cameras": 200, "timeline": 200, "grid": 403, "exports": 200, "export": 200,
              "export_new": 403, "holds": 200, "verify": 200, "audit": 403},
    "investigator": {"map": 200, "cameras": 200, "timeline": 200, "grid": 200, "exports": 200, "export": 200,
                     "export_new": 200, "holds": 200, "verify": 403, "audit": 403},
    "legal": {"map": 200, "cameras": 200, "timeline": 200, "grid": 200, "exports": 200, "export": 200,
              "export_new": 200, "holds": 200, "verify": 200, "audit": 403},
    "owner": {"map": 200, "cameras": 200, "timeline": 200, "grid": 200, "exports": 200, "export": 404,
              "export_new": 403, "holds": 403, "verify": 403, "audit": 403},
    "auditor": {"map": 200, "cameras": 200, "timeline": 403, "grid": 403, "exports": 200, "export": 200,
                "export_new": 403, "holds": 403, "verify": 200, "audit": 200},
}  # fmt: skip
OWN = {"timeline": f"/ui/cameras/mall-1?day={DAY}", "grid": "/ui/grid?cameras=mall-1&at=2025-03-14T16:00:05"}
"""The owner's own camera: its timeline and grid open; cam-a's (another owner's, and the export's) are 404."""

_WORD = re.compile(r"[a-zà-ÿ]{3,}")


def _words(texts: Any) -> set[str]:
    return {w for t in texts for w in _WORD.findall(t.lower())}


DATA = _words([*(f"{c.id} {c.name} {c.owner_id} {c.location} {' '.join(c.tags)}" for c in CAMERAS),
               *(f"{o.id} {o.name}" for o in OWNERS), *(f"{u[0]} {u[1]}" for u in USERS.values())])
"""Words of the world's own data (owner id ``kota`` is also Indonesian for city): not language
where a sentence names them (the map's camera titles)."""
EN_ONLY = _words(v["en"] for v in CATALOG.values()) - _words(v["id"] for v in CATALOG.values()) - DATA
ID_ONLY = _words(v["id"] for v in CATALOG.values()) - _words(v["en"] for v in CATALOG.values()) - DATA
_SHOWN_TEXT = """() => {
  const out = [document.title];
  const data = (el) => el.closest('[translate="no"], script, style, code');
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (n.parentElement && !data(n.parentElement) && n.textContent.trim()) out.push(n.textContent.trim());
  }
  for (const el of document.querySelectorAll("[title], [placeholder], [aria-label], [alt]")) {
    if (data(el)) continue;
    for (const a of ["title", "placeholder", "aria-label", "alt"]) { const v = el.getAttribute(a); if (v) out.push(v); }
  }
  return out;
}"""


def _foreign(page: Any, lang: str) -> dict[str, set[str]]:
    """{shown text: the other language's words in it} of the page (empty: all in ``lang``)."""
    other = EN_ONLY if lang == "id" else ID_ONLY
    found = {}
    for text in page.evaluate(_SHOWN_TEXT):
        bad = _words([text]) & other
        if bad:
            found[text[:120]] = bad
    return found


@pytest.fixture(scope="module")
def served(s3_store: ObjectStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """This module's world (tests/e2e/test_web_browser.py's) with a built export of cam-a."""
    with world(s3_store, tmp_path_factory) as out:
        out.env.ledger.checkpoint("cam-a")
        eid, data = built_package(out.env, "cam-a")
        out.extra.update(eid=eid, package=data)
        yield out


def _url(served: Served, role: str, name: str) -> str:
    url = OWN.get(name, PAGES[name]) if role == "owner" else PAGES[name]
    return url.replace("{eid}", served.extra["eid"])


def _ready(page: Any, name: str) -> None:
    """Wait until what the page's own modules draw is drawn."""
    page.wait_for_load_state("networkidle")
    if name == "timeline":
        page.wait_for_selector("#timeline[data-ready=yes]")
    elif name == "map":
        page.wait_for_selector("#map[data-ready=yes]")
    elif name == "grid":
        _until(page, "[...document.querySelectorAll('.tile')].every(t => t.dataset.state !== 'loading')")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_role_opens_its_pages_and_no_other(served: Served, browser: Any, size: dict[str, int]) -> None:
    name = "desktop" if size is DESKTOP else "phone"
    for role, expect in EXPECT.items():
        context = browser.new_context(viewport=size)
        page = context.new_page()
        watch = Watch(page)
        _login(served, page, role)
        for nav_page, selector in NAV.items():  # what a role may not open is absent, not greyed
            assert page.locator(selector).count() == (1 if expect[nav_page] == 200 else 0), (role, nav_page)
        for page_name, status in expect.items():
            url = served.url + _url(served, role, page_name)
            if status != 200:
                answer = context.request.get(url, max_redirects=0)
                assert answer.status == status, (role, page_name, answer.status)
                assert "Traceback" not in answer.text() and 'id="error-message"' in answer.text()
                continue
            watch.leave()  # the previous page may still be loading media
            page.goto(url)
            _ready(page, page_name)
            wide = page.evaluate("document.scrollingElement.scrollWidth")
            assert wide <= size["width"] + 1, (role, page_name, wide)
            _shot(served, page, f"walk-{name}-{role}-{page_name}")
        if role == "owner":  # another owner's camera by its direct URLs: as if it did not exist
            for url in (PAGES["timeline"], PAGES["grid"], f"/ui/cameras/cam-a/day.json?day={DAY}", "/ui/media/cam-a/0"):
                assert context.request.get(served.url + url, max_redirects=0).status == 404, url
        watch.leave()
        context.close()
        assert watch.problems == [], (role, watch.problems)


def _check(page: Any, lang: str, where: str, seen: dict[str, dict[str, set[str]]]) -> None:
    found = _foreign(page, lang)
    if found:
        seen[where] = found


def test_every_page_speaks_the_users_language(served: Served, browser: Any, tmp_path: Path) -> None:
    """Bahasa Indonesia (the default) then English for the same users: no word of the other language."""
    for lang in ("id", "en"):
        t = translator(lang)
        for role in EXPECT:
            served.env.identity.set_language(USERS[role][0], lang)
        seen: dict[str, dict[str, set[str]]] = {}
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.goto(f"{served.url}/ui/login")
        page.fill("#token", "arc1_nobody_notasecret")
        page.click("#login")
        page.wait_for_selector("#login-error")
        _check(page, "id", "login error", seen)  # no session: the default language
        page.context.close()
        for role, expect in EXPECT.items():
            page = browser.new_context(viewport=DESKTOP).new_page()
            _login(served, page, role)
            assert page.get_attribute("html", "lang") == lang
            for page_name, status in expect.items():
                if status == 200:
                    page.goto(served.url + _url(served, role, page_name))
                    _ready(page, page_name)
                    _check(page, lang, f"{role} {page_name}", seen)
            page.goto(served.url + "/ui/exports/no-such-export")  # an error page
            _check(page, lang, f"{role} error page", seen)
            page.context.close()
        page = browser.new_context(viewport=DESKTOP).new_page()  # what the modules draw on interaction
        _login(served, page, "investigator")
        page.goto(f"{served.url}/ui/cameras/cam-a?day={DAY}")
        _ready(page, "timeline")
        assert t("reason.camera_unreachable") in (page.get_attribute("#lane-gap .bar-gap", "title") or "")
        box = page.locator("#timeline").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] * (16 * 3600 + 10) / 86400, box["y"] + box["height"] / 2)
        _until(page, "document.getElementById('now-playing').dataset.wall !== undefined")
        _check(page, lang, "timeline playing", seen)
        page.goto(f"{served.url}/ui/map")
        _ready(page, "map")
        for start, end in (("2025-03-14T16:00", "2025-03-14T15:00"), ("2025-03-14T16:00", "2025-03-14T16:05")):
            page.fill("#s-lat", "-7.4722")
            page.fill("#s-lon", "112.4338")
            page.fill("#s-radius", "150")
            page.fill("#s-start", start)
            page.fill("#s-end", end)
            page.click("#s-ask")
            page.wait_for_selector("#sight-error:not([hidden])" if end < start else "#sightings li[data-camera]")
            _check(page, lang, f"map sightings {end}", seen)
        for url, form in (("/ui/exports/new", {"#x-cameras": "nope", "#x-start": "soon", "#x-end": ""}),
                          ("/ui/holds", {"#h-cameras": "nope", "#h-start": "2025-03-14T16:30", "#h-end": "x"})):
            page.goto(served.url + url)
            for field, value in form.items():
                page.fill(field, value)
            page.click("#x-request" if "exports" in url else "#h-place")
            page.wait_for_selector(".field-error")
            _check(page, lang, f"{url} field errors", seen)
        page.context.close()
        page = browser.new_context(viewport=DESKTOP).new_page()
        _login(served, page, "legal")
        page.goto(f"{served.url}/ui/verify")
        package = tmp_path / "case.zip"
        package.write_bytes(served.extra["package"])
        page.set_input_files("#package", str(package))
        page.click("#verify")
        page.wait_for_selector("#verdict-card")
        _check(page, lang, "verdict", seen)
        page.context.close()
        page = browser.new_context(viewport=DESKTOP).new_page()
        _login(served, page, "auditor")
        page.goto(f"{served.url}/ui/audit?since=yesterday&result=maybe")
        page.wait_for_selector(".field-error")
        _check(page, lang, "audit field errors", seen)
        page.context.close()
        assert seen == {}, (lang, seen)
    for role in EXPECT:  # back to the default for the module's other tests
        served.env.identity.set_language(USERS[role][0], "id")
