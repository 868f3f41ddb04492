"""``archive nodes list`` and ``archive nodes drain NAME`` (issue 16): the recorder nodes in the catalog.

``list`` prints each node with its capacity, state (``dead`` when it stopped heartbeating without
being stopped), heartbeat age and the cameras it holds (``--json``: the same as data). ``drain``
sets a node's state to ``draining``: it takes no camera any more and hands each one it holds over
to the node the assignment now gives it (ffmpeg stopped, spool stored, the gap to that moment
logged, claim released); a node started again is ``running`` again.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from archive.cli.common import runtime
from archive.config import Config
from archive.errors import NotFoundError
from archive.node_config import check_node_name

# The catalog modules (SQLAlchemy, about 0.4 s of CPU to import) are imported when a nodes command
# runs, not when the command tree is built: every ``archive`` invocation builds it, ``--help`` too.

__all__ = ["register"]


def _cmd_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.ledger.node_report import node_report

    with runtime(cfg) as rt:
        report = node_report(rt.engine)
    if args.json:
        json.dump({"nodes": [n.as_json() for n in report.nodes], "lease_takeovers": report.takeovers,
                   "problems": report.problems()}, out, indent=2)  # fmt: skip
        print(file=out)
        return 0
    if not report.nodes:
        print("no recorder node registered (archive up --node NAME starts one)", file=out)
        return 0
    print(f"{'NODE':<16} {'CAPACITY':>8} {'STATE':<9} {'HEARTBEAT':>10} {'CAMERAS':>7}  HELD", file=out)
    for n in report.nodes:
        print(f"{n.name:<16} {n.capacity:>8g} {n.status:<9} {n.heartbeat_age_s:>8.1f} s {len(n.cameras):>7}  "
              f"{', '.join(n.cameras) or '-'}", file=out)  # fmt: skip
    print(f"lease takeovers so far: {report.takeovers}", file=out)
    for p in report.problems():
        print(f"PROBLEM: {p}", file=out)
    return 0


def _cmd_drain(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.catalog.errors import catalog_errors
    from archive.ledger.node_report import node_report
    from archive.ledger.nodes import set_state

    name = check_node_name(args.name, "node name")
    with runtime(cfg) as rt:
        with catalog_errors(f"cannot drain node {name}"), rt.engine.begin() as conn:
            if not set_state(conn, name, "draining"):
                raise NotFoundError(f"no such node: {name}")
        report = node_report(rt.engine)
    others = [n.name for n in report.nodes if n.name != name and n.live and n.state == "running"]
    if others:
        print(f"node {name}: draining; its cameras move to {', '.join(others)} within a few seconds", file=out)
    else:
        print(f"node {name}: draining, but no other live running node takes cameras: it keeps recording them",
              file=out)  # fmt: skip
    return 0


def register(sub: Any) -> None:
    """Add ``nodes list`` and ``nodes drain`` to the ``archive`` subparsers."""
    nodes = sub.add_parser("nodes", help="recorder nodes (archive up --node)").add_subparsers(dest="sub", required=True)
    ls = nodes.add_parser("list", help="each node: capacity, state, heartbeat age, cameras held")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(handler=_cmd_list)
    dr = nodes.add_parser("drain", help="a node takes no camera any more and hands its cameras over")
    dr.add_argument("name", help="node name")
    dr.set_defaults(handler=_cmd_drain)
