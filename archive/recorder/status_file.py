"""The status file a running service publishes for ``archive status``, and its report.

The service writes a snapshot every few seconds (:func:`write_status_file`): the recorder's
status, the pid, and the problems :func:`archive.recorder.health.assess` finds, with the per-camera
health numbers. ``archive status`` reads it (:func:`read_status_file`) and prints one line per
camera and one sentence per problem (:func:`report`): exit 1 when there is a problem or the file
is stale (the service hung), 0 otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from archive.errors import NotRunningError
from archive.fsmodes import write_private
from archive.recorder.health import HealthLimits, RecorderHealth, assess
from archive.recorder.status import RecorderStatus
from archive.redact import scrub_tree

STALE_S: Final = 30.0


def write_status_file(path: Path, status: RecorderStatus, limits: HealthLimits,
                      skipped: Mapping[str, str] | None = None,
                      protections: Sequence[Mapping[str, object]] = (),
                      node: Mapping[str, object] | None = None) -> RecorderHealth:  # fmt: skip
    """Atomically publish the snapshot, scrubbed of credentials, in a file of mode 0600; returns the
    health it holds. ``skipped``: cameras not recorded (another live process holds their writer
    claim, or their URL is refused), each a problem. ``protections``: the start's protection checks
    (``name``, ``ok``, ``detail``; archive.health), each one off a problem. ``node``: this recorder
    node and the others (``archive up --node``), its ``problems`` (a dead node) each a problem.
    Raises OSError."""
    health = assess(status, limits)
    data = dataclasses.asdict(status)
    data["pid"] = os.getpid()
    data["spool_alarm"] = status.spool_alarm
    data["skipped"] = [{"camera_id": k, "reason": v} for k, v in sorted((skipped or {}).items())]
    data["protections"] = [dict(p) for p in protections]
    data["problems"] = list(health.problems) + [f"camera {k} is not recorded: {v}"
                                                for k, v in sorted((skipped or {}).items())]  # fmt: skip
    data["problems"] += [f"protection {p['name']} is off: {p['detail']}" for p in protections if not p["ok"]]
    if node is not None:
        data["node"] = dict(node)
        found = node.get("problems")
        data["problems"] += [str(p) for p in found] if isinstance(found, list) else []
    data["health"] = [dataclasses.asdict(c) for c in health.cameras]
    write_private(path, json.dumps(scrub_tree(data), default=str, indent=1).encode("utf-8"))
    return health


def read_status_file(path: Path) -> dict[str, object]:
    """The last snapshot, with ``age_seconds`` and ``stale`` added.

    Raises :class:`NotRunningError` when no service publishes one there.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError) as exc:
        raise NotRunningError(f"the service is not running: no recorder status in {path.parent} "
                              "(start it with 'archive up')") from exc  # fmt: skip
    if not isinstance(data, dict):
        raise NotRunningError(f"{path} is not a status snapshot: is the service running?")
    data["age_seconds"] = round(age, 1)
    data["stale"] = age > STALE_S
    return data


STATUS_PATH: Final = Path("run") / "status.json"
"""Where the service publishes its snapshot, relative to the data folder."""


def camera_state(path: Path, camera_id: str) -> str | None:
    """The running recorder's current state of ``camera_id`` from the snapshot at ``path``, as a
    sentence for an export's ongoing outage (e.g. ``reconnecting since 2026-12-03T14:40:00Z,
    not recording since ..., last exit: camera_unreachable: ...``); None when no service
    publishes one there. Never raises."""
    try:
        data = read_status_file(path)
    except NotRunningError:
        return None
    age = f"status snapshot {data.get('age_seconds')} s old" + (", stale: the service may be down"
                                                                  if data.get("stale") else "")  # fmt: skip
    cams = data.get("cameras")
    for cam in cams if isinstance(cams, list) else []:
        if isinstance(cam, dict) and cam.get("camera_id") == camera_id:
            parts = [f"{cam.get('state')} since {cam.get('state_since')}"]
            if cam.get("not_recording_since"):
                parts.append(f"not recording since {cam.get('not_recording_since')}")
            if cam.get("last_exit"):
                parts.append(f"last exit: {cam.get('last_exit')}")
            return f"{'; '.join(parts)} ({age})"[:1000]
    skipped = data.get("skipped")
    for sk in skipped if isinstance(skipped, list) else []:
        if isinstance(sk, dict) and sk.get("camera_id") == camera_id:
            return f"not recorded by the running service: {sk.get('reason')} ({age})"[:1000]
    return f"not recorded by the running service ({age})"


def _problems(data: dict[str, object]) -> list[str]:
    found = data.get("problems")
    problems = [str(p) for p in found] if isinstance(found, list) else []
    if data.get("stale"):
        problems.insert(0, f"the status is {data.get('age_seconds')} s old: the service may be hung")
    return problems


def _node_local_lines(node: dict[str, object]) -> list[str]:
    """This node's fenced cameras and the spool it keeps of cameras it does not record."""
    fenced, left = node.get("fenced"), node.get("leftover_spool")
    lines = [f"  fenced here: camera {c}: {w}" for c, w in sorted(fenced.items())] if isinstance(fenced, dict) else []
    for s in left if isinstance(left, list) else []:
        if isinstance(s, dict):
            lines.append(f"  spool kept here for camera {s.get('camera_id')}, which this node does not record: "
                         f"{s.get('files')} segment files, {s.get('bytes')} bytes never stored")  # fmt: skip
    return lines


def report(data: dict[str, object]) -> tuple[list[str], int]:
    """The lines ``archive status`` prints and its exit code (1 when a problem was found)."""
    lines = [f"recorder pid {data.get('pid')}, status {data.get('age_seconds')} s old",
             f"store: {'up' if data.get('store_available') else 'DOWN ' + str(data.get('store_error'))}"
             f"{'   SPOOL ALARM' if data.get('spool_alarm') else ''}"]  # fmt: skip
    cams = data.get("cameras")
    for cam in cams if isinstance(cams, list) else []:
        ing, spool = cam["ingest"], cam["spool"]
        offset = ing.get("camera_clock_offset_s")  # SPEC.md 2.2 camera_start - start; absent before this field
        lines.append(f"{cam['camera_id']:<22} {cam['state']:<13} last segment {cam['last_segment_at'] or '-'}"
                     f"  ingested {ing['ingested']}  gaps {ing['gaps']}  backlog {ing['backlog_files']} files"
                     f"  spool {spool['bytes_used'] // 1024} KiB"
                     f"  bitrate {round((cam['bitrate_bps'] or 0) / 1000)} kbit/s"
                     f"  camera clock {'-' if offset is None else f'{offset:+.3f} s'}")  # fmt: skip
    node = data.get("node")
    if isinstance(node, dict):
        lines.append(f"node {node.get('name')} ({node.get('state')}), lease {node.get('lease_ttl_s')} s, "
                     f"lease takeovers so far {node.get('lease_takeovers')}")  # fmt: skip
        for n in node.get("nodes") or []:
            if isinstance(n, dict):
                lines.append(f"  node {n.get('name')!s:<14} {n.get('status')!s:<9} heartbeat "
                             f"{n.get('heartbeat_age_s')} s ago  {len(n.get('cameras') or [])} cameras")  # fmt: skip
        lines += _node_local_lines(node)
    problems = _problems(data)
    lines += [f"PROBLEM: {p}" for p in problems] or ["no problem"]
    return lines, 1 if problems else 0


def status_json(data: dict[str, object]) -> tuple[dict[str, object], int]:
    """``archive status --json``: the snapshot with ``ok`` and the stale sentence; and the exit code."""
    problems = _problems(data)
    return {**data, "ok": not problems, "problems": problems}, 1 if problems else 0
