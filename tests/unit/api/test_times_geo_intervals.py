"""Times (ISO 8601 in and out), geometry and interval arithmetic of the search layer."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.errors import ValidationError
from archive.model import us_from_utc
from archive.search.geo import Box, box_around, haversine_m
from archive.search.intervals import merge, subtract
from archive.search.model import Interval
from archive.search.times import MAX_US, TimeFormatter, load_zone, parse_instant

WIB = TimeFormatter(load_zone("Asia/Jakarta"))


def test_offsets_are_required_and_honoured() -> None:
    utc = parse_instant("2025-03-14T09:00:00Z", "start")
    assert parse_instant("2025-03-14T16:00:00+07:00", "start") == utc
    assert parse_instant("2025-03-14T09:00:00+00:00", "start") == utc
    for bad in ("2025-03-14T09:00:00", "2025-03-14", "yesterday", "", "9999-99-99T00:00:00Z", "1969-12-31T23:59:59Z",
                "2300-01-01T00:00:00Z", "x" * 100):
        with pytest.raises(ValidationError) as err:
            parse_instant(bad, "start")
        assert err.value.problems[0].where == "start"


def test_naive_time_message_says_how_to_fix() -> None:
    with pytest.raises(ValidationError, match=r"\+07:00"):
        parse_instant("2025-03-14T16:00:00", "start")


def test_output_beside_utc() -> None:
    us = parse_instant("2025-03-14T09:00:00.123456Z", "t")
    assert WIB.utc(us) == "2025-03-14T09:00:00.123456Z"
    assert WIB.local(us) == "2025-03-14T16:00:00.123456+07:00"
    assert WIB.zone_name == "Asia/Jakarta"


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=MAX_US - 1), st.sampled_from(["Asia/Jakarta", "UTC", "America/New_York",
                                                                        "Asia/Kolkata", "Australia/Lord_Howe"]))
def test_formatting_round_trips(us: int, zone: str) -> None:
    t = TimeFormatter(load_zone(zone))
    assert parse_instant(t.utc(us), "t") == us
    assert parse_instant(t.local(us), "t") == us
    dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    assert t.local(us) == dt.astimezone(load_zone(zone)).isoformat(timespec="microseconds")


def test_zone_changes_inside_an_hour() -> None:
    t = TimeFormatter(load_zone("America/St_Johns"))  # DST starts at 02:00 local = 05:30 UTC
    for text in ("2024-03-10T05:29:59Z", "2024-03-10T05:30:00Z", "2024-03-10T05:45:00Z"):
        us = parse_instant(text, "t")
        dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
        assert t.local(us) == dt.astimezone(t.zone).isoformat(timespec="microseconds")


def test_haversine_and_box() -> None:
    # 1 degree of latitude is about 111.2 km
    assert abs(haversine_m(0, 0, 1, 0) - 111_195) < 10
    assert haversine_m(-7.47, 112.43, -7.47, 112.43) == 0
    with pytest.raises(ValidationError):
        box_around(-7.4, 112.4, 0)
    with pytest.raises(ValidationError):
        box_around(91, 0, 10)
    with pytest.raises(ValidationError):
        Box(1, 0, 0, 1)
    with pytest.raises(ValidationError):
        Box(math.nan, 0, 0, 1)


@settings(max_examples=300)
@given(st.floats(-80, 80), st.floats(-179, 179), st.floats(1, 50_000), st.floats(0, 2 * math.pi), st.floats(0, 1))
def test_box_contains_the_circle(lat: float, lon: float, r: float, bearing: float, frac: float) -> None:
    box = box_around(lat, lon, r)
    d = r * frac * 0.999
    dlat = d * math.cos(bearing) / 111_195
    dlon = d * math.sin(bearing) / (111_195 * math.cos(math.radians(lat)))
    p_lat, p_lon = lat + dlat, lon + dlon
    if haversine_m(lat, lon, p_lat, p_lon) <= r and -180 <= p_lon <= 180:
        assert box.min_lat <= p_lat <= box.max_lat and box.min_lon <= p_lon <= box.max_lon


spans = st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 500)), max_size=40).map(
    lambda xs: sorted((s, s + d) for s, d in xs))


@settings(max_examples=300)
@given(spans, st.integers(0, 5000), st.integers(1, 6000), st.integers(0, 50))
def test_merge_is_the_clipped_union(xs: list[tuple[int, int]], lo: int, length: int, tol: int) -> None:
    hi = lo + length
    out = merge(xs, lo, hi, tol)
    for a, b in itertools.pairwise(out):
        assert b.start_us > a.end_us + tol  # separated by more than the tolerance
    for iv in out:
        assert lo <= iv.start_us < iv.end_us <= hi
    covered = {t for s, e in xs for t in range(max(s, lo), min(e, hi))}
    merged = {t for iv in out for t in range(iv.start_us, iv.end_us)}
    assert covered <= merged
    if tol == 0:
        assert covered == merged


@settings(max_examples=300)
@given(spans, st.integers(0, 5000), st.integers(1, 6000))
def test_subtract_leaves_exactly_the_holes(xs: list[tuple[int, int]], lo: int, length: int) -> None:
    hi = lo + length
    taken = [Interval(s, e) for s, e in xs]
    holes = subtract(lo, hi, taken, tol=0)
    hole_points = {t for iv in holes for t in range(iv.start_us, iv.end_us)}
    taken_points = {t for s, e in xs for t in range(s, e)}
    assert hole_points == set(range(lo, hi)) - taken_points


def test_utc_from_aware_datetimes() -> None:
    jakarta = timezone(timedelta(hours=7))
    assert us_from_utc(datetime(2025, 3, 14, 16, tzinfo=jakarta)) == parse_instant("2025-03-14T09:00:00Z", "t")
