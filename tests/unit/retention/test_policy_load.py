"""Policy files: the shipped examples load; every kind of mistake is rejected with file:line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archive.errors import ValidationError
from archive.retention.policy import ExportApproval
from archive.retention.policy_load import load_policies
from archive.retention.tomlpos import key_lines, line_of

REPO_POLICIES = Path(__file__).resolve().parents[3] / "retention_policies"

CITY = """floor_days = 7
ceiling_days = 365
default_keep_days = 30

[storage_pressure]
alarm_at = 0.8
delete_at = 0.9
delete_down_to = 0.85
"""


def write(tmp_path: Path, files: dict[str, str], city: str = CITY) -> Path:
    d = tmp_path / "pol"
    d.mkdir(exist_ok=True)
    (d / "_city.toml").write_text(city)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def problems(d: Path) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_policies(d)
    return [str(p) for p in info.value.problems]


def test_shipped_policies_load_with_the_example_owners() -> None:
    pol = load_policies(REPO_POLICIES)
    keep = {o: p.keep_days for o, p in pol.owners.items()}
    assert keep == {"dishub": 30, "diskominfo": 60, "satpolpp": 60, "sunrise-mall": 14, "toko-sumber-rejeki": 14}
    assert pol.export_approval("sunrise-mall") is ExportApproval.OWNER
    assert pol.export_approval("toko-sumber-rejeki") is ExportApproval.OWNER
    assert pol.export_approval("unknown-owner") is ExportApproval.ADMIN
    assert not pol.owners["satpolpp"].pressure.delete_early
    assert pol.city.floor_days <= min(keep.values()) and max(keep.values()) <= pol.city.ceiling_days


def test_every_owner_of_the_example_registry_has_a_file() -> None:
    import yaml

    doc = yaml.safe_load((REPO_POLICIES.parent / "ops" / "cameras.example.yaml").read_text())
    assert {o["id"] for o in doc["owners"]} <= set(load_policies(REPO_POLICIES).owners)


def test_resolution_camera_override_beats_tag_override_beats_owner(tmp_path: Path) -> None:
    d = write(tmp_path, {"mall.toml": """owner = "mall"
keep_days = 14
export_approval = "owner"

[storage_pressure]
delete_early = true
min_keep_days = 10

[[override]]
id = "lobby"
cameras = ["mall-lobby"]
keep_days = 21

[[override]]
id = "parking"
tags = ["parking"]
keep_days = 30

[[override]]
id = "entrance"
tags = ["entrance"]
keep_days = 45
"""})
    pol = load_policies(d)
    assert pol.resolve("mall", "mall-lobby", ("parking",)).name == "mall.toml#override.lobby:21d"
    assert pol.resolve("mall", "x", ("parking", "entrance")).keep_days == 45  # the longest tag override
    r = pol.resolve("mall", "y", ())
    assert (r.name, r.keep_days, r.pressure_min_keep_days) == ("mall.toml#keep_days:14d", 14, 10)
    assert pol.resolve("nobody", "z").name == "_city.toml#default_keep_days:30d"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\nkeep_dayz = 3\n', 4, "unknown key 'keep_dayz'"),
        ('owner = "o"\nexport_approval = "owner"\n', 1, "missing key 'keep_days'"),
        ('owner = "o"\nkeep_days = -3\nexport_approval = "owner"\n', 2, "'keep_days' must be between 7 and 365"),
        ('owner = "o"\nkeep_days = 400\nexport_approval = "owner"\n', 2, "city floor and ceiling"),
        ('owner = "o"\nkeep_days = 3\nexport_approval = "owner"\n', 2, "between 7 and 365"),
        ('owner = "o"\nkeep_days = 14.5\nexport_approval = "owner"\n', 2, "whole number of days"),
        ('owner = "o"\nkeep_days = true\nexport_approval = "owner"\n', 2, "whole number of days"),
        ('owner = "other"\nkeep_days = 30\nexport_approval = "owner"\n', 1, "must match the file name"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "mayor"\n', 3, "one of owner, admin, policy"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n\n[storage_pressure]\ndelete_early = true\n', 5,
         "min_keep_days' is required"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n[storage_pressure]\ndelete_early = true\n'
         'min_keep_days = 40\n', 6, "between 7 and 30"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n[storage_pressure]\ndelete_early = "yes"\n', 5,
         "true or false"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n[storage_pressure]\ndelete_early = false\n'
         'panic = 1\n', 6, "unknown key 'storage_pressure.panic'"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n[[override]]\nid = "x"\nkeep_days = 20\n', 4,
         "either cameras or tags"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n[[override]]\nid = "x"\ntags = ["a"]\n'
         'keep_days = 20\n[[override]]\nid = "x"\ntags = ["b"]\nkeep_days = 21\nkeep_weeks = 2\n', 12,
         "unknown key 'override[1].keep_weeks'"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n[[override]]\nid = "x"\ntags = ["a"]\n'
         'keep_days = 20\n[[override]]\nid = "x"\ntags = ["b"]\nkeep_days = 21\n', 9, "id 'x' is used twice"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n[[override]]\nid = "x"\ncameras = ["c1"]\n'
         'keep_days = 20\n[[override]]\nid = "y"\ncameras = [\n  "c2",\n  "c1",\n]\nkeep_days = 21\n', 10,
         "camera 'c1' is in two overrides"),
        ('owner = "o"\nkeep_days = 30\nexport_approval = "owner"\n[[override]]\nid = "x"\ntags = ["a"]\n'
         'keep_days = -1\n', 7, "'override[0].keep_days' must be between 7 and 365"),
        ('owner = "o"\nkeep_days = = 30\n', 2, "not valid TOML"),
    ],
)
def test_owner_file_errors_name_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    d = write(tmp_path, {"o.toml": text})
    found = problems(d)
    assert any(p.startswith(f"{d / 'o.toml'}:{line}: ") and needle in p for p in found), found


@pytest.mark.parametrize(
    ("city", "line", "needle"),
    [
        (CITY.replace("floor_days = 7", "floor_days = -7"), 1, "'floor_days' must be at least 1"),
        (CITY.replace("ceiling_days = 365\n", ""), 1, "missing key 'ceiling_days'"),
        (CITY.replace("default_keep_days = 30", "default_keep_days = 3"), 3, "between 7 and 365"),
        (CITY.replace("delete_down_to = 0.85", "delete_down_to = 0.95"), 8, "must be below delete_at"),
        (CITY.replace("alarm_at = 0.8", "alarm_at = 0.95"), 6, "must not exceed delete_at"),
        (CITY.replace("delete_at = 0.9", "delete_at = 1.5"), 7, "fraction in (0, 1]"),
        (CITY + "\n[extra]\nx = 1\n", 10, "unknown key 'extra'"),
    ],
)
def test_city_file_errors(tmp_path: Path, city: str, line: int, needle: str) -> None:
    d = write(tmp_path, {}, city=city)
    found = problems(d)
    assert any(p.startswith(f"{d / '_city.toml'}:{line}: ") and needle in p for p in found), found


def test_all_problems_of_all_files_are_reported_together(tmp_path: Path) -> None:
    d = write(tmp_path, {"a.toml": 'owner = "a"\nkeep_days = -1\nexport_approval = "owner"\n',
                         "b.toml": 'owner = "b"\nkeep_days = 30\nexport_approval = "owner"\ncolor = 1\n',
                         "notes.yaml": "x: 1\n", "README.md": "docs are ignored\n"})
    found = problems(d)
    assert len(found) == 3, found
    assert any("notes.yaml" in p and "expected <owner>.toml" in p for p in found)


def test_missing_directory_and_city_file(tmp_path: Path) -> None:
    assert "not found" in problems(tmp_path / "nope")[0]
    d = tmp_path / "empty"
    d.mkdir()
    assert "city-wide policy file is missing" in problems(d)[0]


def test_shipped_files_stay_valid_when_copied(tmp_path: Path) -> None:
    shutil.copytree(REPO_POLICIES, tmp_path / "copy")
    assert load_policies(tmp_path / "copy").digest == load_policies(REPO_POLICIES).digest


def test_key_lines_handles_tables_arrays_and_multiline_values() -> None:
    text = '''a = 1
b = """x = 2
y = 3"""
c = [
  "d = 4",
]
[t]
k = 1  # e = 9
"q.r" = 2
[[arr]]
id = "one"
[[arr]]
id = "two"
u.v = 3
'''
    lines = key_lines(text)
    assert lines[("a",)] == 1 and lines[("b",)] == 2 and lines[("c",)] == 4
    assert ("x",) not in lines and ("y",) not in lines and ("d",) not in lines
    assert lines[("t",)] == 7 and lines[("t", "k")] == 8 and lines[("t", "q.r")] == 9
    assert lines[("arr", 0, "id")] == 11 and lines[("arr", 1, "id")] == 13 and lines[("arr", 1, "u", "v")] == 14
    assert line_of(lines, ("arr", 1, "missing")) == 12
    assert line_of(lines, ("nothing",)) == 1
