"""The vendored browser files are exactly the ones the manifest names (name, version, licence, sha256)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import archive.web

VENDOR = Path(archive.web.__file__).parent / "static" / "vendor"


def test_every_vendored_file_matches_its_manifest_entry() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    listed = {f["file"] for f in manifest["files"]}
    on_disk = {p.name for p in VENDOR.iterdir()} - {"MANIFEST.json"} - {f["license_file"] for f in manifest["files"]}
    assert listed == on_disk  # nothing unlisted is served
    for f in manifest["files"]:
        assert f["package"] and f["version"] and f["license"] and (VENDOR / f["license_file"]).is_file()
        assert hashlib.sha256((VENDOR / f["file"]).read_bytes()).hexdigest() == f["sha256"], f["file"]
    versions = {f["package"]: f["version"] for f in manifest["files"]}
    assert versions["htmx.org"].startswith("2.")  # not 4.x: its defaults changed
    assert "hls.js" in versions
    assert versions["world-atlas"] == "2.0.2" and versions["topojson-client"].startswith("3.")  # the map's outline


def test_a_changed_byte_is_caught(tmp_path: Path) -> None:
    data = bytearray((VENDOR / "htmx.min.js").read_bytes())
    data[100] ^= 1
    entry = next(f for f in json.loads((VENDOR / "MANIFEST.json").read_text())["files"] if f["file"] == "htmx.min.js")
    assert hashlib.sha256(bytes(data)).hexdigest() != entry["sha256"]
