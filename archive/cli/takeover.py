"""What a node writes when it takes a camera over from another node (issue 16 item 4).

The gap between the end of what the camera's log holds and this node's first segment is
explained by the previous holder's writer claim, read just before this node claimed it:

* its claim **expired** (its node stopped renewing it: killed, frozen, cut off): a failover.
  archive-log/1's gap reasons are a closed set (SPEC.md 2.3), so it is logged as ``other`` with
  a detail starting ``recorder_failover: `` that names the old node, the end of its last logged
  segment and the takeover time (SPEC.md 2.3.1);
* its claim was **released** (its node handed the camera over, was drained or stopped, and
  logged its own gap up to that moment): ``recorder_stopped``, naming both nodes.

A camera this node held itself before (same node name, e.g. after a restart) keeps the
recorder's own timeline (its spool's ``states.jsonl``), as a single ``archive up`` does.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from archive.ledger.claims import ClaimRecord
from archive.ledger.membership import NodeMember, node_of
from archive.model import utc_from_us
from archive.recorder.sink import RecorderGapReason
from archive.recorder.timeline import Mark

if TYPE_CHECKING:
    from archive.bootstrap import Runtime

__all__ = ["handover_detail", "takeover_mark"]


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def handover_detail(member: NodeMember | None, to_node: str) -> str:
    """The detail of the gap a node logs when it hands a camera over to ``to_node``."""
    me = "this node" if member is None else f"node {member.name}"
    return (f"the camera was handed over to node {to_node} ({me} stopped recording it at "
            f"{_iso(dt.datetime.now(dt.UTC))} and released its writer claim)")  # fmt: skip


def takeover_mark(rt: Runtime, member: NodeMember, camera_id: str, before: ClaimRecord | None) -> Mark | None:
    """The reason of the time from the camera's log end to this node's first segment, when the
    claim ``before`` this node took it was another node's (None otherwise: the recorder's own
    timeline explains it). Raises CatalogError."""
    if before is None or before.claim.holder == member.holder:
        return None
    old = node_of(before.claim.holder)
    if old == member.name:
        return None
    last = rt.ledger.last_segment(camera_id)
    if last is None:
        return None
    ends = [e for e in (last.end, rt.ledger.last_gap_end(camera_id)) if e is not None]
    logged_end = max(ends)
    held = rt.writer_claims.held(camera_id)
    epoch = "" if held is None else f" (epoch {held.epoch})"
    now = _iso(dt.datetime.now(dt.UTC))
    who = f"node {old}" if old is not None else f"recorder {before.claim.holder}"
    if before.released:
        detail = (f"{who} released its writer claim of the camera at {_iso(utc_from_us(before.expires_us))} "
                  f"(handed over, drained or stopped); node {member.name} took it at {now}{epoch}")  # fmt: skip
        return Mark(logged_end, RecorderGapReason.RECORDER_STOPPED, detail)
    detail = (f"{who} stopped renewing its writer claim (epoch {before.claim.epoch}, last renewed at "
              f"{_iso(utc_from_us(before.renewed_us))}, expired at {_iso(utc_from_us(before.expires_us))}); "
              f"its last logged segment ended at {_iso(last.end)}; node {member.name} took the camera over "
              f"at {now}{epoch}")  # fmt: skip
    return Mark(logged_end, RecorderGapReason.FAILOVER, detail)
