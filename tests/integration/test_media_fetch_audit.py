"""A fetch through a signed media link (``/play/segment``) is audited before a byte is sent:
``media.fetch`` by the user the link was issued to, camera, segment and client address; sealed
first; a link whose holder was changed is 403; no entry, no bytes (503)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from litestar.testing import TestClient

from archive.audit.query import AuditFilter
from archive.errors import CatalogError
from tests.integration.api_support import ApiEnv, sealed_api_env_fixture  # noqa: F401

P = "/api/v1"


def _link(env: ApiEnv, c: TestClient, seq: int, role: str = "investigator") -> str:  # type: ignore[type-arg]
    body = c.get(f"{P}/cameras/cam-a/segments/{seq}/url", params={"expires": 30}, headers=env.auth(role)).json()
    url = urlsplit(body["url"])
    return f"{url.path}?{url.query}"


def test_a_fetch_is_recorded_by_the_links_holder_before_the_bytes(
    api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    seq = api_env.seqs["cam-a"][5]
    seen: list[tuple[int, int]] = []  # (media.fetch entries, signed size) when the store is opened
    real = api_env.store.open

    def opened(*args: Any, **kwargs: Any) -> Any:
        if args[0] != api_env.media:  # the signer reads the log bucket's latest pointer through open() too
            return real(*args, **kwargs)
        entries = api_env.audit.events(AuditFilter(action="media.fetch"))
        head = api_env.audit.latest()
        seen.append((len(entries), head.size if head else 0))
        return real(*args, **kwargs)

    with TestClient(api_env.app()) as c:
        link = _link(api_env, c, seq, "legal")
        monkeypatch.setattr(api_env.store, "open", opened)
        got = c.get(link)  # no bearer token: a player on another machine
        assert got.status_code == 200
        [entry] = api_env.audit.events(AuditFilter(action="media.fetch"))
        assert seen == [(1, api_env.audit.size())] and entry.seq < seen[0][1]  # stored and sealed before
        rec = entry.record
        assert rec.actor == "legal1" and rec.ip == "testclient" and rec.method == "GET"
        assert rec.target == {"camera": "cam-a", "seq": str(seq)} and rec.detail["link_holder"] == "legal1"
        assert rec.detail["sha256"] == hashlib.sha256(got.content).hexdigest()

        q = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
        assert c.get(f"/play/segment?{urlencode({**q, 'by': 'someone-else'})}").status_code == 403
        assert len(api_env.audit.events(AuditFilter(action="media.fetch"))) == 1


def test_no_entry_no_bytes(api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    seq = api_env.seqs["cam-a"][5]
    opened: list[object] = []
    with TestClient(api_env.app()) as c:
        link = _link(api_env, c, seq)

        def refused(record: Any) -> Any:
            raise CatalogError("audit append refused")

        monkeypatch.setattr(api_env.audit, "record", refused)
        monkeypatch.setattr(api_env.store, "open", lambda *a, **k: opened.append(a) or iter([b"x"]))  # never reached
        r = c.get(link)
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/json"), r.text
        assert opened == []  # the store was never read
