"""A node's spool kept for cameras it does not record, and its fenced cameras: found on disk, named by
``archive status`` and exposed on ``/metrics`` (issue 16)."""

from __future__ import annotations

from pathlib import Path

from archive.api.metrics import render
from archive.api.status import node_local_metrics
from archive.recorder.leftover import leftover_spool
from archive.recorder.status_file import report


def _spool(root: Path) -> None:
    for cam, files in {"held-1": ["a.ts"], "gone-2": ["20261204T1Ze1-000006.ts", "20261204T1Ze1-000007.ts"],
                       "empty-3": []}.items():  # fmt: skip
        d = root / cam
        d.mkdir(parents=True)
        (d / "states.jsonl").write_text("{}\n")
        for i, name in enumerate(files):
            (d / name).write_bytes(b"G" * (188 * (i + 1)))


def test_leftover_spool_names_only_cameras_not_recorded_with_segment_files(tmp_path: Path) -> None:
    _spool(tmp_path / "spool")
    found = leftover_spool(tmp_path / "spool", {"held-1"})
    assert [(s.camera_id, s.files, s.bytes) for s in found] == [("gone-2", 2, 188 + 376)]
    assert leftover_spool(tmp_path / "absent", ()) == []


def test_status_lines_and_metrics_name_fenced_cameras_and_kept_spool(tmp_path: Path) -> None:
    _spool(tmp_path / "spool")
    node: dict[str, object] = {
        "name": "n3", "state": "running", "lease_ttl_s": 6.0, "lease_takeovers": 4, "nodes": [],
        "fenced": {"cam-9": "writer claim epoch 1 of n3@h:1:x is no longer current"},
        "leftover_spool": [s.as_json() for s in leftover_spool(tmp_path / "spool", {"held-1"})],
    }  # fmt: skip
    lines, _ = report({"pid": 1, "age_seconds": 1, "store_available": True, "cameras": [], "node": node})
    assert "  fenced here: camera cam-9: writer claim epoch 1 of n3@h:1:x is no longer current" in lines
    assert ("  spool kept here for camera gone-2, which this node does not record: 2 segment files, 564 bytes "
            "never stored") in lines  # fmt: skip
    text = render(node_local_metrics(lambda: node)())
    assert "archive_node_fenced_cameras 1" in text and 'archive_node_camera_fenced{camera="cam-9"} 1' in text
    assert 'archive_node_leftover_spool_files{camera="gone-2"} 2' in text
    assert 'archive_node_leftover_spool_bytes{camera="gone-2"} 564' in text
    assert "archive_node_fenced_cameras 0" in render(node_local_metrics(dict)())
