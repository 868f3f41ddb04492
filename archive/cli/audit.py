"""CLI commands of the audit trail: ``archive audit verify`` and ``archive audit events``.

Both act as a token's auditor or admin (``--token-file`` / ``$ARCHIVE_TOKEN``) or, without a
token, as the OS user owning the data dir (``os:<login>``, :mod:`archive.cli.identity`); each
read is itself recorded in the trail. ``verify`` checks every entry, every checkpoint and the
head published in the log bucket (SPEC.md 7.6) and exits 1 when anything fails: entries
deleted from the catalog after their head was published are reported there.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from archive.cli.common import runtime
from archive.cli.identity import CliActor, add_operator_options, operator_or_user
from archive.config import Config
from archive.errors import ForbiddenError

__all__ = ["register"]

_READERS = ("admin", "auditor")


def _reader(args: argparse.Namespace, cfg: Config, rt: Any) -> CliActor:
    who = operator_or_user(args, cfg, rt.identity)
    if who.role not in _READERS:
        raise ForbiddenError(f"only an auditor or admin reads the audit trail ({who.user} is {who.role})")
    return who


def cmd_audit_verify(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Verify the whole trail against its signed checkpoints and published head; exit 1 on a failure."""
    from archive.cli.identity import record_action

    with runtime(cfg) as rt:
        who = _reader(args, cfg, rt)
        report = rt.audit.verify()
        # a damaged trail may refuse the record of this check: the verdict is what must be seen
        record_action(rt.audit, who, "audit.verify", args, 200, {"ok": str(report.ok)}, seal=False, must=report.ok)
    if args.json:
        json.dump({"ok": report.ok, "size": report.size, "signed_size": report.signed_size,
                   "checkpoints_checked": report.checkpoints_checked, "failures": list(report.failures)},
                  out, indent=2)  # fmt: skip
        print(file=out)
    else:
        print(f"audit trail {report.origin}: {report.size} entries, {report.checkpoints_checked} checkpoints, "
              f"signed up to {report.signed_size}", file=out)  # fmt: skip
        for f in report.failures:
            print(f"  FAILED {f}", file=out)
        print("OK" if report.ok else f"FAILED ({len(report.failures)} problem(s))", file=out)
    return 0 if report.ok else 1


def cmd_audit_events(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """The newest entries (optionally of one action or actor), one line each or JSON."""
    from archive.audit.query import AuditFilter
    from archive.cli.identity import audited

    f = AuditFilter(actor=args.actor, action=args.action, limit=max(1, min(args.limit, 1000)))
    with runtime(cfg) as rt:
        found = audited(rt.audit, _reader(args, cfg, rt), "audit.events", args, lambda: rt.audit.events(f), seal=False)
    rows = [{"seq": e.seq, "at_us": e.record.at_us, "actor": e.record.actor, "role": e.record.role,
             "action": e.record.action, "method": e.record.method, "status": e.record.status,
             "target": dict(e.record.target)} for e in found]  # fmt: skip
    if args.json:
        json.dump(rows, out, indent=2, ensure_ascii=False, default=str)
        print(file=out)
    else:
        for r in rows:
            print(f"{r['seq']:>7}  {r['actor'] or '-':<20} {r['role'] or '-':<12} {r['action']:<22} {r['method']:<6} "
                  f"{r['status']}", file=out)  # fmt: skip
    return 0


def register(sub: Any) -> None:
    """Add ``audit verify|events`` to the ``archive`` subparsers."""
    audit = sub.add_parser("audit", help="the signed audit trail (API requests and CLI actions)")
    au = audit.add_subparsers(dest="sub", required=True)
    ver = au.add_parser("verify", help="check every entry, checkpoint and the published head (exit 1: tampered)")
    ver.add_argument("--json", action="store_true", help="machine-readable output")
    add_operator_options(ver)
    ver.set_defaults(handler=cmd_audit_verify)
    ev = au.add_parser("events", help="the newest entries, newest first")
    ev.add_argument("--action", help="only this action (e.g. hold.release)")
    ev.add_argument("--actor", help="only this actor (a user id or os:<login>)")
    ev.add_argument("--limit", type=int, default=50, help="at most this many (1-1000, default 50)")
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    add_operator_options(ev)
    ev.set_defaults(handler=cmd_audit_events)
