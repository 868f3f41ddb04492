"""The ``archive`` command line. Thin: parses arguments, calls services, prints results.

Exit codes: 0 success, 1 the system failed (store down, verification failed), 2 bad input
(a sentence on stderr, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from archive.api.cli import register as register_api
from archive.config import Config, load_config, mask_url, masked
from archive.errors import ERRORS, UserError, ValidationError
from archive.export.cli import register as register_export
from archive.ledger.cli import register as register_ledger
from archive.retention.cli import register as register_retention

log = logging.getLogger("archive")
Handler = Callable[[argparse.Namespace, Config, TextIO], int]


def _cmd_config_check(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    print(f"# configuration from {cfg.source}", file=out)
    for section, values in masked(cfg).items():
        print(f"[{section}]", file=out)
        for key, value in values.items():
            print(f"{key} = {json.dumps(value)}", file=out)
    print(f"# data dir: {cfg.data_dir}", file=out)
    print(f"# catalog: {mask_url(cfg.catalog_url)}", file=out)
    return 0


def _cmd_db_upgrade(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.bootstrap import Runtime
    from archive.catalog.migrate import current_revision

    with Runtime(cfg, migrate=True) as rt:
        print(f"catalog at migration {current_revision(rt.engine)}", file=out)
    return 0


def _cmd_cameras_import(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.bootstrap import Runtime
    from archive.registry.importer import import_registry

    with Runtime(cfg) as rt:
        report = import_registry(Path(args.file), rt.registry)
    for kind, c in (("owners", report.owners), ("cameras", report.cameras)):
        print(f"{kind}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged", file=out)
    return 0


def _cmd_cameras_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.bootstrap import Runtime

    with Runtime(cfg) as rt:
        cams = rt.registry.cameras(owner_id=args.owner)
    if args.json:
        rows = [{"id": c.id, "name": c.name, "owner": c.owner_id, "stream_url": c.stream_url,
                 "username": c.username, "password": "***" if c.has_password else None,
                 "latitude": c.latitude, "longitude": c.longitude, "location": c.location,
                 "tags": list(c.tags), "enabled": c.enabled} for c in cams]
        json.dump(rows, out, indent=2, ensure_ascii=False)
        print(file=out)
        return 0
    for c in cams:
        flag = "" if c.enabled else " (disabled)"
        cred = f" user={c.username} password=***" if c.has_password else ""
        print(f"{c.id:<24} {c.owner_id:<16} {c.latitude:>10.5f} {c.longitude:>11.5f}  {c.name}{flag}"
              f"  {c.stream_url}{cred}", file=out)
    print(f"{len(cams)} cameras", file=out)
    return 0


def _cmd_owners_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.bootstrap import Runtime

    with Runtime(cfg) as rt:
        owners, counts = rt.registry.owners(), rt.registry.camera_counts_by_owner()
    for o in owners:
        print(f"{o.id:<20} {o.kind.value:<11} {counts.get(o.id, 0):>4} cameras  {o.name}"
              f"  shared with: {', '.join(o.agencies) or '-'}", file=out)
    return 0


def _cmd_health(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.bootstrap import Runtime
    from archive.health import check_health

    with Runtime(cfg) as rt:
        report = check_health(rt)
    if args.json:
        json.dump({"ok": report.ok, "checks": [c.__dict__ for c in report.checks]}, out, indent=2)
        print(file=out)
    else:
        for c in report.checks:
            print(f"{'ok  ' if c.ok else 'FAIL'} {c.name:<22} {c.detail}", file=out)
    return 0 if report.ok else 1


def _cmd_simulate(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.sim.cameras import run_simulator

    if not 1 <= args.cameras <= 128:
        raise UserError("--cameras must be between 1 and 128")
    code: int = run_simulator(args.cameras, args.profile, args.port_base, out)
    return code


def _cmd_up(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.service import run_service

    code: int = run_service(cfg, demo=args.demo, out=out)
    return code


def _cmd_record(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.service import run_service

    code: int = run_service(cfg, demo=False, out=out, only=args.camera)
    return code


def _cmd_status(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.recorder.status_file import report, status_json
    from archive.service import read_status

    data = read_status(cfg)
    if args.json:
        doc, code = status_json(data)
        json.dump(doc, out, indent=2)
        print(file=out)
        return code
    lines, code = report(data)
    print("\n".join(lines), file=out)
    return code


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; every command has --help."""
    p = argparse.ArgumentParser(prog="archive", description="Forensic CCTV recording and evidence retrieval.")
    p.add_argument("--config", help="TOML configuration file (default: $ARCHIVE_CONFIG or ./archive.toml)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run the service: store, catalog, recorder (simulated cameras with --demo)")
    up.add_argument("--demo", action="store_true", help="start simulated cameras and record them")
    up.set_defaults(handler=_cmd_up)

    record = sub.add_parser("record", help="record one camera in the foreground until interrupted")
    record.add_argument("--camera", required=True, help="camera id")
    record.set_defaults(handler=_cmd_record)

    status = sub.add_parser("status", help="per-camera recorder status of the running service (exit 1 if unwell)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_cmd_status)

    config = sub.add_parser("config", help="configuration").add_subparsers(dest="sub", required=True)
    check = config.add_parser("check", help="print the effective configuration, secrets masked")
    check.set_defaults(handler=_cmd_config_check)

    db = sub.add_parser("db", help="catalog database").add_subparsers(dest="sub", required=True)
    db.add_parser("upgrade", help="migrate the catalog to the newest schema").set_defaults(handler=_cmd_db_upgrade)

    cams = sub.add_parser("cameras", help="camera registry").add_subparsers(dest="sub", required=True)
    imp = cams.add_parser("import", help="import owners and cameras from YAML or CSV (idempotent, all or nothing)")
    imp.add_argument("file", help="a .yaml/.yml or .csv file")
    imp.set_defaults(handler=_cmd_cameras_import)
    lst = cams.add_parser("list", help="list registered cameras (passwords never shown)")
    lst.add_argument("--owner", help="only this owner's cameras")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(handler=_cmd_cameras_list)

    owners = sub.add_parser("owners", help="camera owners").add_subparsers(dest="sub", required=True)
    owners.add_parser("list", help="list owners with camera counts").set_defaults(handler=_cmd_owners_list)

    health = sub.add_parser("health", help="check storage (with object-lock probe), catalog and cameras")
    health.add_argument("--json", action="store_true", help="machine-readable output")
    health.set_defaults(handler=_cmd_health)

    sim = sub.add_parser("simulate", help="serve simulated RTSP cameras on loopback until interrupted")
    sim.add_argument("--cameras", type=int, default=8, help="how many cameras (default 8)")
    sim.add_argument("--profile", default="h264",
                     help="h264, h264-bframes, h265, h264-audio, resolution-change or h264-live; "
                          "comma-separated to mix (default h264)")
    sim.add_argument("--port-base", type=int, default=None, help="first RTSP port (default: free ports)")
    sim.set_defaults(handler=_cmd_simulate)
    register_ledger(sub)  # keys, witness, log, verify
    register_api(sub)  # users, tokens, api serve
    register_retention(sub)  # retention, holds
    register_export(sub)  # export, verify package
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    handler: Handler = args.handler
    try:
        cfg = load_config(args.config)
        code = handler(args, cfg, out)
        out.flush()  # here, not at exit: a reader that went away (| head) is handled below
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
    except ValidationError as exc:
        for problem in exc.problems:
            print(f"archive: error: {problem}", file=sys.stderr)
        print(f"archive: {len(exc.problems)} problem(s); nothing was changed", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"archive: error: {exc}", file=sys.stderr)
        return 2
    except ERRORS as exc:
        print(f"archive: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
