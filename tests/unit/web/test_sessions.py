"""Browser sessions end when idle, at their maximum age and at logout; the store is bounded."""

from __future__ import annotations

from archive.web.sessions import SessionStore, same_token


def test_sessions_expire_idle_and_absolute_and_drop() -> None:
    now = [0.0]
    store = SessionStore(idle_s=10, max_s=25, max_sessions=2, clock=lambda: now[0])
    sid, s = store.create("arc1_x_y", "u1")
    assert store.get(sid) is s and s.csrf and "arc1_x_y" not in repr(s)
    now[0] = 9
    assert store.get(sid) is s  # used: the idle clock restarts
    now[0] = 18
    assert store.get(sid) is s
    now[0] = 26
    assert store.get(sid) is None  # past the maximum age although not idle
    sid2, _ = store.create("t", "u2")
    now[0] = 37
    assert store.get(sid2) is None  # idle
    a, _ = store.create("a", "a")
    b, _ = store.create("b", "b")
    c, _ = store.create("c", "c")
    assert store.get(a) is None and store.get(b) is not None and store.get(c) is not None
    store.drop(b)
    assert store.get(b) is None and store.get(None) is None and store.get("") is None


def test_same_token_needs_both() -> None:
    assert same_token("abc", "abc") and not same_token("abc", "abd")
    assert not same_token(None, None) and not same_token("", "") and not same_token("abc", None)
