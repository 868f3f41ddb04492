"""CLI commands ``archive retention check|plan|run|runs`` and ``archive holds add|list|release|sync``.

:func:`register` adds them to the ``archive`` parser. Handlers get ``(args, cfg, out)`` and return
an exit code; archive errors are mapped by ``archive/cli/main.py`` (UserError -> 2, others -> 1).
Changing commands (``holds add|release``, ``retention run``) act as the registered user of a token
(``--token-file`` or ``$ARCHIVE_TOKEN``, :mod:`archive.cli.identity`); what they do goes into the
signed audit trail in the same transaction as the change. ``--by``/``--role`` are refused (exit 2).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from archive.cli.common import cli_time_us, runtime
from archive.cli.identity import add_identity_options, cli_user
from archive.config import Config
from archive.errors import UserError

if TYPE_CHECKING:  # heavy imports stay inside the handlers: `archive --help` stays fast
    from archive.bootstrap import Runtime
    from archive.retention.audit import HoldActor
    from archive.retention.service import RetentionService

__all__ = ["open_service", "register"]


@contextmanager
def open_service(cfg: Config, now: Callable[[], datetime] | None = None) -> Iterator[RetentionService]:
    """The runtime's retention service (closed after the block); its store and ledger are opened
    only when a command needs them. ``now``: the clock of retention and holds."""
    with runtime(cfg) if now is None else runtime(cfg, now=now) as rt:
        yield rt.retention


def _actor(args: argparse.Namespace, rt: Runtime) -> HoldActor:
    """The token's registered user (archive.cli.identity). Raises UserError."""
    return cli_user(args, rt.identity).hold_actor()


def _print_json(data: Any, out: TextIO) -> None:
    json.dump(data, out, indent=2, ensure_ascii=False, default=str)
    print(file=out)


# -- retention ---------------------------------------------------------------------------------
def _cmd_check(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.retention.policy_load import load_policies
    from archive.retention.settings import RetentionSettings

    directory = Path(args.dir) if args.dir else RetentionSettings.from_config(cfg).policies_dir
    pol = load_policies(directory)
    c = pol.city
    print(f"{directory}: valid (digest {pol.digest[:12]})", file=out)
    print(f"city: floor {c.floor_days}d, ceiling {c.ceiling_days}d, default {c.default_keep_days}d; storage alarm at "
          f"{c.pressure.alarm_at:.0%}, early deletion from {c.pressure.delete_at:.0%} down to "
          f"{c.pressure.delete_down_to:.0%}", file=out)  # fmt: skip
    for o in pol.owners.values():
        early = (f"early deletion down to {o.pressure.min_keep_days}d" if o.pressure.delete_early
                 else "never deleted early")  # fmt: skip
        print(f"{o.owner:<22} keep {o.keep_days:>3}d  exports: {o.export_approval.value:<6}  {early}"
              + "".join(f"; override {v.id} {v.keep_days}d" for v in o.overrides), file=out)  # fmt: skip
    return 0


def _cmd_plan(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.model import utc_from_us
    from archive.retention.report import preview_data, preview_lines

    at = cli_time_us(args.at, "--at")
    with open_service(cfg, None if at is None else (lambda: utc_from_us(at))) as svc:
        preview = svc.preview(owner=args.owner)
    if args.json:
        _print_json(preview_data(preview), out)
    else:
        for line in preview_lines(preview, cameras=not args.owners_only):
            print(line, file=out)
    return 0


def _cmd_run(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.retention.report import run_lines
    from archive.retention.service import summary

    with runtime(cfg) as rt:
        report = rt.retention.run(actor=_actor(args, rt), confirm=args.confirm, owner=args.owner)
    if args.json:
        _print_json(summary(report) | {"run_id": report.run_id}, out)
    else:
        for line in run_lines(report):
            print(line, file=out)
    return 0 if report.status == "ok" else 1


def _cmd_runs(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.retention.repo import recent_runs
    from archive.retention.report import iso

    with runtime(cfg) as rt:
        runs = recent_runs(rt.engine, args.limit)
    if args.json:
        _print_json(runs, out)
        return 0
    for r in runs:
        s = r["summary"] or {}
        print(f"{r['id']:>6}  {iso(r['started_us'])}  {r['status']:<8} deleted {s.get('deleted', 0):>10,}  "
              f"failed {s.get('failed', 0):,}  {r['holder']}" + (f"  error: {s['error']}" if "error" in s else ""),
              file=out)  # fmt: skip
    return 0


# -- holds -------------------------------------------------------------------------------------
def _sync_lines(rep: Any, out: TextIO) -> None:
    print(f"S3 legal holds: {rep.held_on} versions held, {rep.held_off} released", file=out)
    for m in (*rep.missing, *rep.failed):
        print(f"  WARNING {m}", file=out)


def _agency(value: str | None) -> str | None:
    from archive.identity.model import AGENCY_ID

    if value is not None and not AGENCY_ID.match(value):
        raise UserError(f"--agency {value[:64]!r} is not a valid agency id (a-z, 0-9, _ and -)")
    return value


def _cmd_holds_add(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    start, end = cli_time_us(args.start, "--from"), cli_time_us(args.end, "--to")
    if start is None or end is None:  # argparse makes them required
        raise UserError("--from and --to are required")
    expires = cli_time_us(args.expires, "--expires")
    with runtime(cfg) as rt:
        placed = rt.holds.place(_actor(args, rt), case_id=args.case, reason=args.reason, cameras=args.camera,
                                start_us=start, end_us=end, expires_us=expires,
                                agency=_agency(args.agency))  # fmt: skip
    hold, rep = placed.hold, placed.report
    done = "already placed (nothing changed)" if placed.existing else "created"
    print(f"legal hold {hold.id} {done} for case {hold.case_id} on {', '.join(hold.cameras)}", file=out)
    if rep is not None:
        _sync_lines(rep, out)
    return 0 if rep is None or rep.ok else 1


def _cmd_holds_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.retention.report import hold_data, hold_line

    with open_service(cfg) as svc:
        holds = svc.holds.list_holds(include_inactive=args.all, camera_id=args.camera)
        now = svc.now_us()
    if args.json:
        _print_json([hold_data(h, now) for h in holds], out)
    else:
        for h in holds:
            print(hold_line(h, now), file=out)
        print(f"{len(holds)} hold(s)", file=out)
    return 0


def _cmd_holds_release(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    with runtime(cfg) as rt:
        hold, rep = rt.holds.release(_actor(args, rt), args.id, args.reason)
    print(f"legal hold {hold.id} (case {hold.case_id}) released by {hold.released_by}", file=out)
    if rep is not None:
        _sync_lines(rep, out)
    return 0 if rep is None or rep.ok else 1


def _cmd_holds_sync(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    with open_service(cfg) as svc:
        rep = svc.sync_holds()
    if rep.expired:
        print(f"expired holds: {', '.join(map(str, rep.expired))}", file=out)
    _sync_lines(rep, out)
    return 0 if rep.ok else 1


def register(sub: Any) -> None:
    """Add ``retention`` and ``holds`` to the ``archive`` subcommands."""
    ret = sub.add_parser("retention", help="retention per camera owner: check policies, plan, run")
    rs = ret.add_subparsers(dest="sub", required=True)
    chk = rs.add_parser("check", help="validate the retention policy files and show the rules")
    chk.add_argument("--dir", help="policy directory (default: [retention] policies_dir)")
    chk.set_defaults(handler=_cmd_check)
    pl = rs.add_parser("plan", help="show what a run would delete, per owner and camera, without deleting")
    pl.add_argument("--owner", help="only this owner's cameras")
    pl.add_argument("--at", help="plan as of this time (ISO 8601 with zone; default now)")
    pl.add_argument("--owners-only", action="store_true", help="one line per owner")
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.set_defaults(handler=_cmd_plan)
    run = rs.add_parser("run", help="apply policy changes, sync legal holds, delete what expired (exit 1: failures)")
    run.add_argument("--owner", help="only this owner's cameras")
    run.add_argument("--confirm", action="store_true",
                     help="admin: confirm shortened policies also for existing footage")  # fmt: skip
    run.add_argument("--json", action="store_true", help="machine-readable output")
    add_identity_options(run)
    run.set_defaults(handler=_cmd_run)
    runs = rs.add_parser("runs", help="list recent executor runs")
    runs.add_argument("--limit", type=int, default=10)
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    runs.set_defaults(handler=_cmd_runs)

    holds = sub.add_parser("holds", help="legal holds: footage that must not be deleted")
    hs = holds.add_subparsers(dest="sub", required=True)
    add = hs.add_parser("add", help="put cameras x time range on hold for a case (catalog + S3 legal hold)")
    add.add_argument("--case", required=True, help="case id")
    add.add_argument("--reason", required=True, help="why (recorded in the audit)")
    add.add_argument("--camera", action="append", required=True, help="camera id (repeat for several)")
    add.add_argument("--from", dest="start", required=True, help="start of the range (ISO 8601 with zone)")
    add.add_argument("--to", dest="end", required=True, help="end of the range (ISO 8601 with zone)")
    add.add_argument("--expires", help="when the hold lapses by itself (default: indefinite)")
    add.add_argument("--agency", help="the agency the hold belongs to: its legal staff may see and release it "
                                      "(default: none, only admins release it)")  # fmt: skip
    add_identity_options(add)
    add.set_defaults(handler=_cmd_holds_add)
    lst = hs.add_parser("list", help="list holds (active only unless --all)")
    lst.add_argument("--all", action="store_true", help="include released and expired holds")
    lst.add_argument("--camera", help="only holds covering this camera")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(handler=_cmd_holds_list)
    rel = hs.add_parser("release", help="release a hold (admin or legal); S3 holds lifted where nothing else holds")
    rel.add_argument("id", type=int, help="hold id")
    rel.add_argument("--reason", required=True, help="why (recorded in the audit)")
    add_identity_options(rel)
    rel.set_defaults(handler=_cmd_holds_release)
    hs.add_parser("sync", help="expire holds and make S3 legal holds match the active holds").set_defaults(
        handler=_cmd_holds_sync
    )
