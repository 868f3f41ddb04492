"""The pure planner: examples and hypothesis properties (never held, never in policy, all expired)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from archive.retention.planner import CameraRule, HoldSpan, PressureInput, PressureLevel, Seg, plan
from archive.retention.policy import PressureThresholds

TH = PressureThresholds(alarm_at=0.8, delete_at=0.9, delete_down_to=0.85)


def source_of(segs: dict[str, list[Seg]]):
    def source(camera_id: str, after: int, max_end: int):
        return sorted((s for s in segs.get(camera_id, []) if after < s.end_us <= max_end),
                      key=lambda s: (s.end_us, s.seq))
    return source


def rule(cam: str, keep: int, **kw) -> CameraRule:
    return CameraRule(cam, "owner", f"r:{keep}", keep, **kw)


def test_selects_expired_and_keeps_the_rest() -> None:
    segs = {"a": [Seg(i, i * 10, i * 10 + 10, 100) for i in range(10)]}
    p = plan({"a": rule("a", 50)}, source_of(segs), [], now_us=100)
    # end + 50 <= 100  <=>  end <= 50: seqs 0..4
    assert p.selected() == {"a": {0, 1, 2, 3, 4}}
    sel = p.cameras[0].selections[0]
    assert (sel.count, sel.bytes, sel.oldest_start_us, sel.newest_end_us, sel.rule) == (5, 500, 0, 50, "r:50")
    assert not sel.early


def test_held_segments_are_never_selected_and_counted() -> None:
    segs = {"a": [Seg(i, i * 10, i * 10 + 10, 100) for i in range(10)]}
    holds = [HoldSpan(1, "a", 15, 25), HoldSpan(2, "a", 0, 100, expires_us=50)]  # the second has expired
    p = plan({"a": rule("a", 50)}, source_of(segs), holds, now_us=100)
    assert p.selected() == {"a": {0, 3, 4}}
    assert p.cameras[0].held_count == 2 and p.cameras[0].held_bytes == 200


def test_hold_boundaries_are_exclusive() -> None:
    segs = {"a": [Seg(0, 0, 10, 1), Seg(1, 10, 20, 1), Seg(2, 20, 30, 1)]}
    p = plan({"a": rule("a", 0)}, source_of(segs), [HoldSpan(1, "a", 10, 20)], now_us=100)
    assert p.selected() == {"a": {0, 2}}  # a hold [10, 20) covers exactly seq 1


def test_unconfirmed_shortening_keeps_older_footage_longer() -> None:
    segs = {"a": [Seg(i, i * 10, i * 10 + 10, 1) for i in range(20)]}
    r = rule("a", 30, legacy_rule="old:80", legacy_keep_us=80, legacy_before_us=100)
    p = plan({"a": r}, source_of(segs), [], now_us=150)
    # before 100: end + 80 <= 150 -> end <= 70 -> seqs 0..6; from 100: end + 30 <= 150 -> end <= 120: seqs 10, 11
    assert p.selected() == {"a": {0, 1, 2, 3, 4, 5, 6, 10, 11}}
    rules = {s.rule: set(s.seqs) for s in p.cameras[0].selections}
    assert rules == {"old:80": {0, 1, 2, 3, 4, 5, 6}, "r:30": {10, 11}}


def test_confirmed_shortening_marks_old_footage_early() -> None:
    segs = {"a": [Seg(i, i * 10, i * 10 + 10, 1) for i in range(5)]}
    p = plan({"a": rule("a", 0, bypass_before_us=20)}, source_of(segs), [], now_us=100)
    early = {q for s in p.cameras[0].selections if s.early for q in s.seqs}
    assert early == {0, 1}


def test_pressure_alarm_only_below_delete_threshold() -> None:
    segs = {"a": [Seg(i, i * 10, i * 10 + 10, 10) for i in range(10)]}
    r = rule("a", 1000, pressure_rule="p", pressure_min_keep_us=0)
    p = plan({"a": r}, source_of(segs), [], 100, PressureInput(85, 100, TH))
    assert p.pressure is not None and p.pressure.level is PressureLevel.ALARM and p.count == 0


def test_pressure_deletes_oldest_unheld_within_min_keep_until_target() -> None:
    segs = {"a": [Seg(i, i * 10, i * 10 + 10, 10) for i in range(10)],
            "b": [Seg(i, i * 10 + 5, i * 10 + 15, 10) for i in range(10)],
            "c": [Seg(i, i * 10, i * 10 + 10, 10) for i in range(10)]}
    rules = {"a": rule("a", 1000, pressure_rule="pa", pressure_min_keep_us=60),
             "b": rule("b", 1000, pressure_rule="pb", pressure_min_keep_us=60),
             "c": rule("c", 1000)}  # c: owner does not allow early deletion
    hold = [HoldSpan(1, "a", 0, 10)]
    p = plan(rules, source_of(segs), hold, 100, PressureInput(95, 100, TH))
    assert p.pressure is not None and p.pressure.need_bytes == 10  # 95 % -> 85 %: 10 bytes = one segment
    assert p.selected() == {"a": set(), "b": {0}, "c": set()}  # a:0 is held; b:0 ends first (15)
    p = plan(rules, source_of(segs), hold, 100, PressureInput(105, 100, TH))
    assert p.selected() == {"a": {1}, "b": {0}, "c": set()}  # then a:1 (ends 20)
    assert p.pressure is not None and p.pressure.freed_early_bytes == 20
    assert all(s.early and s.pressure for c in p.cameras for s in c.selections)
    # min_keep 60 at now 100: nothing ending after 40 is ever taken, however full the store
    p = plan(rules, source_of(segs), hold, 100, PressureInput(10_000, 100, TH))
    assert p.selected() == {"a": {1, 2, 3}, "b": {0, 1, 2}, "c": set()}
    assert p.pressure is not None and p.pressure.blocked and p.pressure.shortfall_bytes > 0


def test_pressure_blocked_under_compliance() -> None:
    segs = {"a": [Seg(i, i * 10, i * 10 + 10, 10) for i in range(10)]}
    r = rule("a", 1000, pressure_rule="p", pressure_min_keep_us=0)
    p = plan({"a": r}, source_of(segs), [], 100, PressureInput(95, 100, TH, early_allowed=False))
    assert p.count == 0 and p.pressure is not None and p.pressure.blocked and "COMPLIANCE" in p.pressure.blocked


def test_source_out_of_order_is_a_contract_error() -> None:
    def bad(camera_id: str, after: int, max_end: int):
        return [Seg(1, 10, 20, 1), Seg(0, 0, 10, 1)]
    with pytest.raises(ValueError, match="contract"):
        plan({"a": rule("a", 0)}, bad, [], now_us=100)


# -- properties --------------------------------------------------------------------------------
@dataclass(frozen=True)
class World:
    rules: dict[str, CameraRule]
    segs: dict[str, list[Seg]]
    holds: list[HoldSpan]
    now: int


CAMS = ["a", "b", "c"]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    rules: dict[str, CameraRule] = {}
    segs: dict[str, list[Seg]] = {}
    for cam in draw(st.lists(st.sampled_from(CAMS), min_size=1, max_size=3, unique=True)):
        keep = draw(st.integers(0, 120))
        legacy = draw(st.none() | st.tuples(st.integers(0, 200), st.integers(0, 250)))
        bypass = draw(st.none() | st.integers(0, 250))
        pmin = draw(st.none() | st.integers(0, 120))
        rules[cam] = CameraRule(cam, "o", f"{cam}:keep", keep,
                                legacy_rule=f"{cam}:legacy" if legacy else None,
                                legacy_keep_us=legacy[0] if legacy else None,
                                legacy_before_us=legacy[1] if legacy else None,
                                bypass_before_us=bypass, pressure_rule=f"{cam}:pressure" if pmin is not None else None,
                                pressure_min_keep_us=pmin)
        raw = draw(st.lists(st.tuples(st.integers(0, 250), st.integers(1, 20), st.integers(1, 50)), max_size=25))
        segs[cam] = [Seg(i, s, s + d, size) for i, (s, d, size) in enumerate(raw)]
    # a camera with segments but no rule is never touched
    segs["zz"] = [Seg(0, 0, 1, 5)]
    holds = [HoldSpan(i, cam, s, s + d, exp)
             for i, (cam, s, d, exp) in enumerate(draw(st.lists(st.tuples(
                 st.sampled_from([*rules, "zz"]), st.integers(0, 260), st.integers(1, 80),
                 st.none() | st.integers(0, 400)), max_size=4)))]
    return World(rules, segs, holds, draw(st.integers(0, 400)))


def keep_for(r: CameraRule, s: Seg) -> int:
    if (r.legacy_keep_us is not None and r.legacy_before_us is not None and s.start_us < r.legacy_before_us
            and r.legacy_keep_us > r.keep_us):
        return r.legacy_keep_us
    return r.keep_us


def held(w: World, cam: str, s: Seg) -> bool:
    return any(h.camera_id == cam and (h.expires_us is None or h.expires_us > w.now)
               and s.start_us < h.end_us and s.end_us > h.start_us for h in w.holds)


def expired(w: World, cam: str, s: Seg) -> bool:
    return s.end_us + keep_for(w.rules[cam], s) <= w.now


@settings(max_examples=400, deadline=None)
@given(worlds())
def test_property_selects_exactly_the_expired_unheld(w: World) -> None:
    p = plan(w.rules, source_of(w.segs), w.holds, w.now)
    got = p.selected()
    want = {cam: {s.seq for s in w.segs[cam] if expired(w, cam, s) and not held(w, cam, s)} for cam in w.rules}
    assert got == want
    for c in p.cameras:
        cam = c.camera_id
        assert c.held_count == sum(1 for s in w.segs[cam] if expired(w, cam, s) and held(w, cam, s))
        for sel in c.selections:
            r = w.rules[c.camera_id]
            for q in sel.seqs:
                s = w.segs[c.camera_id][q]
                assert sel.early == (r.bypass_before_us is not None and s.start_us < r.bypass_before_us)
                assert sel.rule == (r.legacy_rule if keep_for(r, s) != r.keep_us else r.rule)
            assert sel.count == len(sel.seqs) and sel.bytes == sum(w.segs[c.camera_id][q].size for q in sel.seqs)


@settings(max_examples=400, deadline=None)
@given(worlds(), st.integers(1, 2000), st.floats(0.5, 4.0), st.booleans())
def test_property_pressure_never_takes_held_or_protected_footage(w: World, capacity: int, load: float,
                                                                 early_ok: bool) -> None:
    used = int(capacity * load)
    p = plan(w.rules, source_of(w.segs), w.holds, w.now, PressureInput(used, capacity, TH, early_ok))
    event("pressure with held candidates" if early_ok and p.pressure and p.pressure.need_bytes and any(
        held(w, cam, s) and not expired(w, cam, s) for cam in w.rules for s in w.segs[cam]) else "other")
    got = p.selected()
    for cam, seqs in got.items():
        r = w.rules[cam]
        for q in seqs:
            s = w.segs[cam][q]
            assert not held(w, cam, s), "held footage selected"
            if not expired(w, cam, s):  # only under pressure, within the owner's rules
                assert early_ok and r.pressure_min_keep_us is not None
                assert s.end_us <= w.now - r.pressure_min_keep_us, "footage inside min_keep_days selected"
        expired_unheld = {s.seq for s in w.segs[cam] if expired(w, cam, s) and not held(w, cam, s)}
        assert expired_unheld <= seqs, "expired footage left behind"
    # oldest first, and no more than needed
    pr = p.pressure
    assert pr is not None
    eligible = sorted(
        (s.end_us, cam, s.seq, s.size) for cam, r in w.rules.items() if r.pressure_min_keep_us is not None
        for s in w.segs[cam]
        if not expired(w, cam, s) and not held(w, cam, s) and s.end_us <= w.now - r.pressure_min_keep_us)
    early = sorted((w.segs[cam][q].end_us, cam, q, w.segs[cam][q].size) for cam, seqs in got.items() for q in seqs
                   if not expired(w, cam, w.segs[cam][q]))
    if not early_ok or pr.need_bytes == 0:
        assert early == []
        return
    assert early == eligible[:len(early)], "not the oldest eligible footage"
    total = sum(e[3] for e in early)
    assert total == pr.freed_early_bytes
    assert total >= pr.need_bytes or len(early) == len(eligible)
    if early:
        assert total - early[-1][3] < pr.need_bytes, "deleted more than needed"
