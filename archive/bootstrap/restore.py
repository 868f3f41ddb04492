"""``archive backup restore DIR``: put a backup's catalog and keys in place, never rolling a log back.

Order: check the manifest (every file's SHA-256); refuse while the service runs on this data dir;
stage the backup's catalog (SQLite: a copy in the data dir; PostgreSQL: ``pg_restore`` into a
scratch database ``<db>_restore_<time>`` on the same server, which needs CREATEDB) with its keys;
check it against the log bucket (:func:`published_problems`); only then replace the live catalog
(SQLite: the old file is kept as ``catalog.sqlite3.before-restore-<time>``; PostgreSQL:
``pg_restore --clean --if-exists --single-transaction``) and the key files (an old key that
differs is kept as ``<name>.before-restore-<time>``).

The check, per camera log: :func:`archive.ledger.verify_log.verify_log` on the staged catalog (every
checkpoint published in the log bucket must be covered by the catalog's entries and consistent
with its tree: a catalog behind the newest published checkpoint fails it), and a log that has
published checkpoints but no entry in the backup is refused too (its recorder would start the log
again from entry 0: a fork); the audit trail must verify against its published head.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archive.bootstrap.backup import (
    PG_DUMP,
    SQLITE_COPY,
    BackupManifest,
    key_files,
    libpq_url,
    pg_tool,
    read_backup,
    run_pg,
    sqlite_path,
)
from archive.catalog.errors import catalog_errors
from archive.config import CatalogConfig, Config, SecretsConfig
from archive.errors import UserError

__all__ = ["RestoreResult", "published_problems", "restore_backup"]

_CHECKPOINT_LATEST = "/checkpoint.latest"


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: the manifest restored, the camera logs checked, what was kept aside."""

    manifest: BackupManifest
    logs_checked: int
    kept: tuple[str, ...]


def published_problems(cfg: Config) -> tuple[int, list[str]]:
    """(camera logs checked, one sentence per camera whose log in ``cfg``'s catalog is behind or not
    consistent with what the log bucket published, and one when the audit trail does not verify
    against its published head). Raises CatalogError, StorageError."""
    from archive.bootstrap.runtime import Runtime
    from archive.ledger.published import list_checkpoint_notes
    from archive.ledger.verify_log import verify_log

    problems: list[str] = []
    with Runtime(cfg) as rt:
        ledger = rt.ledger
        settings = ledger.settings
        in_catalog = {c for s in ledger.logs() if (c := settings.camera_of(s.log_id)) is not None}
        published: set[str] = set()
        for info in rt.store.list_versions(settings.log_bucket, f"logs/{settings.origin_prefix}/camera/"):
            if info.key.endswith(_CHECKPOINT_LATEST):
                cam = settings.camera_of(info.key[len("logs/") : -len(_CHECKPOINT_LATEST)])
                if cam is not None:
                    published.add(cam)
        for cam in sorted(published - in_catalog):
            problems.append(f"camera {cam}: the log bucket holds signed checkpoints of its log, the backup not one "
                            "entry of it")  # fmt: skip
        audit = rt.audit.verify()
        if not audit.ok:
            problems.append(f"the audit trail: {audit.failures[0]}")
        for cam in sorted(in_catalog):
            notes = list_checkpoint_notes(rt.store, settings.log_bucket, ledger.log_id(cam))
            newest = max((n.size_in_key or 0 for n in notes), default=0)
            if ledger.size(cam) < newest:
                problems.append(f"camera {cam}: the backup's log has {ledger.size(cam)} entries, the log bucket "
                                f"published a checkpoint of size {newest} (the log would roll back)")  # fmt: skip
                continue
            report = verify_log(ledger, cam)
            if not report.ok:
                problems.append(f"camera {cam}: {report.failures[0].what}")
    return len(in_catalog | published), problems


def _refuse_if_running(cfg: Config) -> None:
    path = cfg.data_dir / "run" / "status.json"
    try:
        pid = int(json.loads(path.read_text(encoding="utf-8")).get("pid", 0))
        fresh = time.time() - path.stat().st_mtime < 60
    except (OSError, ValueError, TypeError, AttributeError):
        return
    if pid > 0 and fresh:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass
        raise UserError(f"archive up (pid {pid}) runs on {cfg.data_dir}: stop every node and the API before a restore")


def _checked(cfg: Config, url: str, key_file: Path) -> int:
    staged = replace(cfg, catalog=CatalogConfig(url=url), secrets=SecretsConfig(key_file=str(key_file)))
    logs, problems = published_problems(staged)
    if problems:
        raise UserError("refusing to restore: the backup would roll an evidence log back or fork it: "
                        + "; ".join(problems))  # fmt: skip
    return logs


def _put_keys(cfg: Config, staging: Path, manifest: BackupManifest, stamp: str) -> list[str]:
    kept: list[str] = []
    live = key_files(cfg)
    for f in manifest.files:
        if not f.name.startswith("keys/"):
            continue
        target = live.get(f.name, cfg.data_dir / f.name)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        new = staging / f.name
        if target.is_file():
            if target.read_bytes() == new.read_bytes():
                continue
            aside = target.with_name(f"{target.name}.before-restore-{stamp}")
            target.replace(aside)
            kept.append(str(aside))
        new.chmod(0o600)
        shutil.move(str(new), target)
    return kept


def _restore_sqlite(cfg: Config, src: Path, staging: Path, live: Path, stamp: str) -> tuple[int, list[str]]:
    staged = staging / SQLITE_COPY
    shutil.copyfile(src / SQLITE_COPY, staged)
    staged.chmod(0o600)
    logs = _checked(cfg, f"sqlite:///{staged}", staging / "keys" / "credentials.key")
    kept: list[str] = []
    for suffix in ("", "-wal", "-shm"):
        old = live.with_name(live.name + suffix)
        if old.exists():
            aside = live.with_name(f"{live.name}.before-restore-{stamp}{suffix}")
            old.replace(aside)
            kept.append(str(aside))
    for suffix in ("-wal", "-shm"):  # the check's connection may have left its own beside the copy
        staging.joinpath(SQLITE_COPY + suffix).unlink(missing_ok=True)
    shutil.move(str(staged), live)
    return logs, kept[:1]


def _restore_postgresql(cfg: Config, src: Path, staging: Path, stamp: str) -> int:
    restore = pg_tool("pg_restore")
    url = make_url(cfg.catalog_url)
    scratch = f"{url.database}_restore_{stamp.lower()}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with catalog_errors(f"cannot create the scratch database {scratch} (the catalog user needs CREATEDB)"), \
                admin.connect() as conn:  # fmt: skip
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        try:
            scratch_url = url.set(database=scratch).render_as_string(hide_password=False)
            plain = scratch_url.replace("postgresql+psycopg://", "postgresql://")
            run_pg(
                [restore, "--no-owner", f"--dbname={plain}", str(src / PG_DUMP)], "pg_restore into the scratch database"
            )
            logs = _checked(cfg, scratch_url, staging / "keys" / "credentials.key")
        finally:
            with catalog_errors(f"cannot drop the scratch database {scratch}"), admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    finally:
        admin.dispose()
    live = libpq_url(cfg.catalog_url)
    run_pg([restore, "--clean", "--if-exists", "--single-transaction", "--no-owner", f"--dbname={live}",
            str(src / PG_DUMP)], "pg_restore into the catalog")  # fmt: skip
    return logs


def restore_backup(cfg: Config, src: Path) -> RestoreResult:
    """Restore the backup in ``src`` into ``cfg``'s catalog and key files (module docstring).

    Raises UserError: altered backup, catalog kind mismatch, service running, a log would roll
    back or fork (the camera is named), pg_restore missing. CatalogError / StorageError when the
    catalog or the store cannot be reached for the check; nothing is replaced then.
    """
    manifest = read_backup(src)
    live = sqlite_path(cfg)
    if (manifest.catalog == "sqlite") != (live is not None):
        raise UserError(f"the backup holds a {manifest.catalog} catalog; the configuration names "
                        f"{'a SQLite' if live is not None else 'a PostgreSQL'} one")  # fmt: skip
    _refuse_if_running(cfg)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    cfg.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = cfg.data_dir / f".restore-{stamp}"
    staging.mkdir(mode=0o700)
    try:
        (staging / "keys").mkdir(mode=0o700)
        for f in manifest.files:
            if f.name.startswith("keys/"):
                shutil.copyfile(src / f.name, staging / f.name)
                (staging / f.name).chmod(0o600)
        if live is not None:
            live.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            logs, kept = _restore_sqlite(cfg, src, staging, live, stamp)
        else:
            logs, kept = _restore_postgresql(cfg, src, staging, stamp), []
        kept += _put_keys(cfg, staging, manifest, stamp)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    return RestoreResult(manifest, logs, tuple(kept))
