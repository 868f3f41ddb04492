"""Policy changes: lengthening applies to existing footage, shortening only forward unless confirmed."""

from __future__ import annotations

from archive.retention.planner import Seg, plan
from archive.retention.policy import DAY_US, ResolvedRule
from archive.retention.reconcile import CameraRetentionState, ChangeKind, camera_rule, reconcile

INITIAL = 30 * DAY_US
NOW = 1000 * DAY_US


def rr(days: int, name: str | None = None, pressure: int | None = None) -> ResolvedRule:
    return ResolvedRule("o", name or f"o.toml#keep_days:{days}d", days,
                        f"o.toml#storage_pressure.min_keep_days:{pressure}d" if pressure else None, pressure)


def rec(resolved: dict[str, ResolvedRule], states: dict[str, CameraRetentionState], now: int = NOW,
        confirm: bool = False):
    return reconcile(resolved, states, now, initial_keep_us=INITIAL, initial_rule="storage.default:30d",
                     confirm=confirm)


def test_first_sight_of_a_camera_compares_with_the_storage_default() -> None:
    r = rec({"same": rr(30), "longer": rr(60), "shorter": rr(14)}, {})
    kinds = {c.camera_id: c.kind for c in r.changes}
    assert kinds == {"same": ChangeKind.INITIAL, "longer": ChangeKind.LENGTHENED,
                     "shorter": ChangeKind.SHORTENED_FORWARD}
    assert r.states["longer"].extend_from_seq == 0 and r.states["same"].extend_from_seq is None
    s = r.states["shorter"]
    assert (s.keep_us, s.legacy_keep_us, s.legacy_before_us, s.legacy_rule) == (
        14 * DAY_US, INITIAL, NOW, "storage.default:30d")
    assert s.pending_shortening


def test_unchanged_policy_changes_nothing() -> None:
    first = rec({"c": rr(30)}, {})
    again = rec({"c": rr(30)}, dict(first.states), now=NOW + 5)
    assert again.changes == () and again.states == {}


def test_shortening_forward_then_confirmed_later() -> None:
    st = {"c": CameraRetentionState("c", "o", "o.toml#keep_days:30d", 30 * DAY_US)}
    fwd = rec({"c": rr(14)}, st)
    s = fwd.states["c"]
    assert s.pending_shortening and s.legacy_before_us == NOW and s.bypass_before_us is None
    # a later run, nothing changed in the files, an admin confirms
    conf = rec({"c": rr(14)}, {"c": s}, now=NOW + DAY_US, confirm=True)
    assert [c.kind for c in conf.changes] == [ChangeKind.SHORTENING_CONFIRMED]
    c = conf.states["c"]
    assert not c.pending_shortening and c.legacy_keep_us is None and c.bypass_before_us == NOW


def test_shortening_confirmed_at_once_bypasses_all_existing_footage() -> None:
    st = {"c": CameraRetentionState("c", "o", "o.toml#keep_days:30d", 30 * DAY_US)}
    r = rec({"c": rr(14)}, st, confirm=True)
    assert r.states["c"].bypass_before_us == NOW and not r.states["c"].pending_shortening


def test_repeated_shortening_keeps_the_longest_legacy() -> None:
    st = {"c": CameraRetentionState("c", "o", "o.toml#keep_days:60d", 60 * DAY_US)}
    s1 = rec({"c": rr(30)}, st).states["c"]
    s2 = rec({"c": rr(14)}, {"c": s1}, now=NOW + DAY_US).states["c"]
    assert (s2.legacy_keep_us, s2.legacy_rule, s2.legacy_before_us, s2.keep_us) == (
        60 * DAY_US, "o.toml#keep_days:60d", NOW + DAY_US, 14 * DAY_US)


def test_lengthening_past_the_legacy_drops_it_and_extends_locks() -> None:
    st = {"c": CameraRetentionState("c", "o", "r14", 14 * DAY_US, "r30", 30 * DAY_US, NOW - DAY_US)}
    partly = rec({"c": rr(20)}, st).states["c"]
    assert partly.legacy_keep_us == 30 * DAY_US and partly.extend_from_seq == 0
    fully = rec({"c": rr(45)}, st).states["c"]
    assert fully.legacy_keep_us is None and fully.keep_us == 45 * DAY_US and fully.extend_from_seq == 0


def test_renamed_rule_with_same_period_is_recorded() -> None:
    st = {"c": CameraRetentionState("c", "o", "o.toml#keep_days:30d", 30 * DAY_US)}
    r = rec({"c": rr(30, "o.toml#override.x:30d")}, st)
    assert [c.kind for c in r.changes] == [ChangeKind.RENAMED] and r.states["c"].rule == "o.toml#override.x:30d"


def test_unconfirmed_shortening_protects_older_footage_in_the_plan() -> None:
    st = {"c": CameraRetentionState("c", "o", "r30", 30 * DAY_US)}
    s = rec({"c": rr(14, pressure=7)}, st).states["c"]
    r = camera_rule(s, rr(14, pressure=7))
    assert r.pressure_min_keep_us == 7 * DAY_US
    day = DAY_US
    old = [Seg(i, NOW - (40 - i) * day, NOW - (40 - i) * day + 10, 1) for i in range(40)]  # started before NOW
    new = [Seg(100 + i, NOW + i * day, NOW + i * day + 10, 1) for i in range(20)]
    segs = old + new

    def source(cam: str, after: int, bound: int):
        return sorted((x for x in segs if after < x.end_us <= bound), key=lambda x: x.end_us)

    later = NOW + 16 * day
    chosen = plan({"c": r}, source, [], later).selected()["c"]
    # old footage: kept 30 days (ends before later - 30d); new footage: 14 days
    assert chosen == {x.seq for x in old if x.end_us + 30 * day <= later} | {
        x.seq for x in new if x.end_us + 14 * day <= later}
    assert {100, 101} <= chosen and 35 not in chosen  # 21 days old: kept by the legacy 30 days
