"""Report wording a judge can read (issue 15 item 7): custody events as sentences, times in WIB
and UTC, holes within the tolerance summarised once, and how to obtain the trust key."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime

from archive.export.verifier import wording
from archive.export.verifier.checks import verify_package
from archive.export.verifier.custody import decode_event
from tests.vectors import export_vectors as gen


def _custody_events() -> list:  # type: ignore[type-arg]
    with zipfile.ZipFile(gen.OUT / "honest.zip") as z:
        data = z.read(f"{gen.PACKAGE}/custody.jsonl")
    return [decode_event(line) for line in data.splitlines()]


def test_times_are_wib_and_utc_never_epochs() -> None:
    assert wording.when(datetime(2025, 3, 14, 9, 26, 50, tzinfo=UTC)) == \
        "Friday 14 March 2025, 16:26:50 WIB (09:26:50 UTC)"
    assert wording.when("2025-03-14T20:00:00.250000Z") == "Saturday 15 March 2025, 03:00:00.250 WIB (14 March 2025 " \
        "20:00:00.250 UTC)"
    assert wording.duration(5_000_000) == "5 s" and wording.duration(250_000) == "0.25 s"
    assert wording.duration(200_000_000) == "3 min 20 s" and wording.duration(3_720_000_000) == "1 h 2 min"


def test_custody_events_are_sentences() -> None:
    lines = [wording.custody_sentence(e) for e in _custody_events()]
    assert lines[0] == ("Penyidik Satu (user inv1, investigator, agency police) requested the export of cameras "
                        "cam-1, cam-2 from Friday 14 March 2025, 09:00:00 WIB (02:00:00 UTC) to Friday 14 March 2025, "
                        "09:00:35 WIB (02:00:35 UTC) on Friday 14 March 2025, 10:00:00 WIB (03:00:00 UTC), from "
                        "10.0.0.7.")
    assert lines[3].startswith("Operator Satu (user op1, admin, agency diskominfo) built the package CASE-1_exp")
    assert "sealing 14 evidence files" in lines[3] and "evidence SHA-256 " in lines[3]
    assert not any("{" in x or "'" in x for x in lines)


def test_holes_within_tolerance_are_summarised_once() -> None:
    notes = [f"cam-a: hole within tolerance: 40000 us from 2025-03-14T02:00:{s:02d}.000000Z to "
             f"2025-03-14T02:00:{s:02d}.040000Z not covered between seq {s} and seq {s + 1}" for s in range(0, 50, 10)]
    notes.append("cam-a: seq 9: gap 2025-03-14T02:01:00.000000Z - 2025-03-14T02:01:05.000000Z: camera_unreachable "
                 "(connection refused)")
    out = wording.readable_facts(notes, tolerance_us=500_000)
    holes = [x for x in out if "hole" in x]
    assert holes == ["cam-a: 5 holes between recordings, each within the tolerance of 0.5 s (together 0.2 s, the "
                     "longest 0.04 s, first at Friday 14 March 2025, 09:00:00 WIB (02:00:00 UTC)): reported, not "
                     "rejected."]
    gap = [x for x in out if "outage" in x]
    assert gap == ["cam-a: seq 9: an outage from Friday 14 March 2025, 09:01:00 WIB (02:01:00 UTC) to Friday 14 March "
                   "2025, 09:01:05 WIB (02:01:05 UTC) (5 s), reason camera_unreachable (connection refused): the "
                   "camera could not be reached."]
    assert not any("us " in x or "Z " in x for x in out)


def test_trust_paragraph_names_archive_and_fingerprint() -> None:
    text = wording.trust_paragraph("archive.mojokerto", "sha256:" + "ab" * 32)
    assert "archive.mojokerto" in text and "sha256:" + "ab" * 32 in text
    assert "archive export key" in text and "not from this package" in text


def test_verifier_output_reads_as_sentences() -> None:
    case = next(c for c in json.loads((gen.OUT / "index.json").read_text())["vectors"] if c["file"] == "honest.zip")
    o = verify_package(gen.OUT / "honest.zip", trust=case["trust"])
    custody = next(c for c in o.checks if c.name == "custody log")
    assert any(d.startswith("#0 Penyidik Satu (user inv1") for d in custody.details), custody.details
    assert not any("{" in d for d in custody.details)
    assert any("an outage from" in f and "WIB" in f for f in o.facts), o.facts
