"""``archive backup create DIR`` and ``archive backup restore DIR`` (:mod:`archive.bootstrap.backup`,
:mod:`archive.bootstrap.restore`): the catalog with its signing key ring, and the key files.

Exit 0 done; 2 bad input or a refusal (a non-empty DIR, an altered backup, pg_dump missing, the
service running, a restore that would roll a camera's log back: the camera is named); 1 when the
catalog or the store cannot be reached.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from archive.cli.identity import add_operator_options
from archive.config import Config

__all__ = ["register"]


def cmd_backup_create(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Write a backup of the catalog and the keys into a new folder, as an admin; the action is
    recorded (signed, published) in the audit trail BEFORE the copy, so the backup holds its own
    record and is not behind the trail's published head (a failed copy is recorded too)."""
    from archive.bootstrap.backup import create_backup, preflight
    from archive.cli.common import runtime
    from archive.cli.identity import admin_operator, record_action
    from archive.errors import ERRORS

    preflight(cfg, Path(args.dir))  # bad input: exit 2 before anything is recorded
    with runtime(cfg) as rt:
        who = admin_operator(args, cfg, rt.identity, "back up the catalog and keys")
        record_action(rt.audit, who, "backup.create", args, 200, {"phase": "copy follows"}, seal=True, must=True)
        try:
            manifest = create_backup(cfg, Path(args.dir))
        except ERRORS as exc:
            record_action(rt.audit, who, "backup.create", args, 500, {"error": str(exc)}, seal=True, must=False)
            raise
    out.write(f"backup of the {manifest.catalog} catalog and {len(manifest.files) - 1} key files in {args.dir} "
              f"({sum(f.size for f in manifest.files)} bytes, manifest.json lists each SHA-256)\n")  # fmt: skip
    return 0


def _owner_only(cfg: Config) -> None:
    """A restore replaces the catalog that would check a token: only the data dir's OS owner may run it."""
    import os

    from archive.errors import UserError

    where = next((p for p in (cfg.data_dir, *cfg.data_dir.parents) if p.exists()), cfg.data_dir)
    if where.stat().st_uid != os.geteuid():
        raise UserError(f"only the OS user owning {where} may restore a backup into it")


def cmd_backup_restore(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Restore a backup after checking it against the published checkpoints; the restore is then
    recorded in the restored audit trail (a failure to record it is logged, not raised)."""
    from archive.bootstrap.restore import restore_backup
    from archive.cli.common import runtime
    from archive.cli.identity import operator_or_user, record_action

    _owner_only(cfg)
    result = restore_backup(cfg, Path(args.dir))
    with runtime(cfg) as rt:
        who = operator_or_user(args, cfg, rt.identity)
        record_action(rt.audit, who, "backup.restore", args, 200, {"created_utc": result.manifest.created_utc,
                      "logs_checked": str(result.logs_checked)}, seal=True, must=False)  # fmt: skip
    out.write(
        f"restored the {result.manifest.catalog} catalog of {result.manifest.created_utc} and its keys; "
        f"{result.logs_checked} camera logs consistent with the log bucket's published checkpoints\n"
    )
    for path in result.kept:
        out.write(f"  kept the replaced file as {path}\n")
    return 0


def register(sub: Any) -> None:
    """Add ``backup create|restore`` to the ``archive`` subparsers."""
    backup = sub.add_parser("backup", help="back up or restore the catalog, signing key ring and keys")
    bk = backup.add_subparsers(dest="sub", required=True)
    create = bk.add_parser("create", help="copy the catalog (SQLite online backup / pg_dump) and the key files")
    create.add_argument("dir", help="a new (or empty) folder; made mode 0700, files 0600")
    add_operator_options(create)
    create.set_defaults(handler=cmd_backup_create)
    restore = bk.add_parser("restore", help="restore a backup; refused when a camera log would roll back "
                            "(stop the service first)")  # fmt: skip
    restore.add_argument("dir", help="a folder made by 'archive backup create'")
    restore.set_defaults(handler=cmd_backup_restore)
