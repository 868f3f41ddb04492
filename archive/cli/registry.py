"""CLI commands of the configuration and the camera registry: ``init``, ``config check``, ``db upgrade``,
``cameras import|list``, ``owners list``, ``health`` and ``simulate``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from archive.cli.common import no_archive_needed, runtime
from archive.cli.identity import add_operator_options, admin_operator, audited_change
from archive.config import DEFAULT_CONFIG_NAME, Config, load_config, mask_url, masked
from archive.errors import UserError

__all__ = ["register"]


DEFAULT_TOML = """# archive configuration, written by 'archive init'. Every key and its value: 'archive config check'.
# Relative paths are taken from this file's folder. Sections: see README, Configuration.
[paths]
data_dir = "var"
"""


def _cmd_init(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Create the archive: ./archive.toml from the defaults (when no configuration was found), the
    data dir (0700) and the catalog at the newest schema. Idempotent: nothing existing is changed."""
    from archive.fsmodes import secure_process

    if cfg.from_defaults:
        path = Path(DEFAULT_CONFIG_NAME)
        if not path.exists():
            path.write_text(DEFAULT_TOML, encoding="utf-8")
            print(f"wrote {path.resolve()} (the defaults)", file=out)
        cfg = load_config(path)
    existed = cfg.data_dir.is_dir()
    secure_process(cfg.data_dir, cfg.catalog_url)  # data dir 0700, SQLite file 0600 (archive.fsmodes)
    with runtime(cfg, migrate=True) as rt:
        rt.engine  # noqa: B018 - building the engine creates and migrates the catalog
    print(
        f"archive {'already ' if existed else ''}initialised in {cfg.data_dir} (configuration {cfg.source})", file=out
    )
    return 0


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
    from archive.catalog.migrate import current_revision

    with runtime(cfg, migrate=True) as rt:
        print(f"catalog at migration {current_revision(rt.engine)}", file=out)
    return 0


def _cmd_cameras_import(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.registry.importer import import_registry

    with runtime(cfg) as rt:
        who = admin_operator(args, cfg, rt.identity, "import cameras")
        report = audited_change(
            rt.audit,
            who,
            "cameras.import",
            args,
            lambda note: import_registry(Path(args.file), rt.registry, force=args.force, note=note),
            seal=True,
        )
    for kind, c in (("owners", report.owners), ("cameras", report.cameras)):
        print(f"{kind}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged", file=out)
    return 0


def _cmd_cameras_switch(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """``cameras disable|enable|remove ID``: a running ``archive up`` applies it within ~5 s (archive.cli.follow)."""
    with runtime(cfg) as rt:
        who = admin_operator(args, cfg, rt.identity, f"{args.sub} cameras")
        cam = audited_change(rt.audit, who, f"cameras.{args.sub}", args, lambda note: rt.registry.remove(
            args.camera_id, note) if args.sub == "remove" else rt.registry.set_enabled(
            args.camera_id, args.sub == "enable", note), seal=True)  # fmt: skip
    state = (
        "removed (disabled; its evidence and log stay)" if cam.removed else ("enabled" if cam.enabled else "disabled")
    )
    print(f"camera {cam.id}: {state}", file=out)
    return 0


def _cmd_cameras_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    with runtime(cfg) as rt:
        cams = rt.registry.cameras(owner_id=args.owner)
    if args.json:
        rows = [
            {
                "id": c.id,
                "name": c.name,
                "owner": c.owner_id,
                "stream_url": c.stream_url,
                "username": c.username,
                "password": "***" if c.has_password else None,
                "latitude": c.latitude,
                "longitude": c.longitude,
                "location": c.location,
                "tags": list(c.tags),
                "enabled": c.enabled,
                "removed": c.removed,
            }
            for c in cams
        ]
        json.dump(rows, out, indent=2, ensure_ascii=False)
        print(file=out)
        return 0
    for c in cams:
        flag = " (removed)" if c.removed else ("" if c.enabled else " (disabled)")
        flag += " (demo: simulated by 'archive up')" if c.owner_id == "demo" else ""
        cred = f" user={c.username} password=***" if c.has_password else ""
        print(
            f"{c.id:<24} {c.owner_id:<16} {c.latitude:>10.5f} {c.longitude:>11.5f}  {c.name}{flag}"
            f"  {c.stream_url}{cred}",
            file=out,
        )
    print(f"{len(cams)} cameras", file=out)
    return 0


def _cmd_owners_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    with runtime(cfg) as rt:
        owners, counts = rt.registry.owners(), rt.registry.camera_counts_by_owner()
    for o in owners:
        print(
            f"{o.id:<20} {o.kind.value:<11} {counts.get(o.id, 0):>4} cameras  {o.name}"
            f"  shared with: {', '.join(o.agencies) or '-'}",
            file=out,
        )
    return 0


def _cmd_health(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.health import check_health

    with runtime(cfg) as rt:
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


def register(sub: Any) -> None:
    """Add the commands to the ``archive`` parser's subcommands."""
    init = sub.add_parser("init", help="create the archive here: archive.toml (if none), data dir, catalog")
    no_archive_needed(init).set_defaults(handler=_cmd_init)

    config = sub.add_parser("config", help="configuration").add_subparsers(dest="sub", required=True)
    check = config.add_parser("check", help="print the effective configuration, secrets masked")
    no_archive_needed(check).set_defaults(handler=_cmd_config_check)

    db = sub.add_parser("db", help="catalog database").add_subparsers(dest="sub", required=True)
    db.add_parser("upgrade", help="migrate the catalog to the newest schema").set_defaults(handler=_cmd_db_upgrade)

    cams = sub.add_parser("cameras", help="camera registry").add_subparsers(dest="sub", required=True)
    imp = cams.add_parser("import", help="import owners and cameras from YAML or CSV (idempotent, all or nothing)")
    imp.add_argument("file", help="a .yaml/.yml or .csv file")
    imp.add_argument("--force", action="store_true", help="re-add cameras that were removed, under the same id")
    add_operator_options(imp)
    imp.set_defaults(handler=_cmd_cameras_import)
    lst = cams.add_parser("list", help="list registered cameras (passwords never shown)")
    lst.add_argument("--owner", help="only this owner's cameras")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(handler=_cmd_cameras_list)
    for name, what in (
        ("disable", "stop recording a camera (a running archive up stops it within ~5 s)"),
        ("enable", "record a disabled camera again"),
        (
            "remove",
            "take a camera out of service: disabled and marked removed; no evidence "
            "or log entry is deleted, and its id is re-added only by 'import --force'",
        ),
    ):
        sw = cams.add_parser(name, help=what)
        sw.add_argument("camera_id", help="camera id")
        add_operator_options(sw)
        sw.set_defaults(handler=_cmd_cameras_switch)

    owners = sub.add_parser("owners", help="camera owners").add_subparsers(dest="sub", required=True)
    owners.add_parser("list", help="list owners with camera counts").set_defaults(handler=_cmd_owners_list)

    health = sub.add_parser("health", help="check storage (with object-lock probe), catalog and cameras")
    health.add_argument("--json", action="store_true", help="machine-readable output")
    health.set_defaults(handler=_cmd_health)

    sim = sub.add_parser("simulate", help="serve simulated RTSP cameras on loopback until interrupted")
    sim.add_argument("--cameras", type=int, default=8, help="how many cameras (default 8)")
    sim.add_argument(
        "--profile",
        default="h264",
        help="h264, h264-bframes, h265, h264-audio, resolution-change or h264-live; "
        "comma-separated to mix (default h264)",
    )
    sim.add_argument("--port-base", type=int, default=None, help="first RTSP port (default: free ports)")
    no_archive_needed(sim).set_defaults(handler=_cmd_simulate)
