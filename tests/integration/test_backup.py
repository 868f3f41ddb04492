"""``archive backup create|restore`` (issue 16 item 5): the catalog (with its signing key ring) and the
key files, with a manifest of SHA-256s, files 0600; a restore that would roll a camera's log back
behind the newest checkpoint published in the log bucket is refused (exit 2, the camera named) and
changes nothing; a backup as new as the log bucket restores and verifies."""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archive.cli import main
from tests.fixtures.catalog import PG_BASE
from tests.integration.ledger_support import Env, make_env, record

CAM = "cam-b"


@pytest.fixture
def env(s3_store, tmp_path: Path):
    e = make_env(f"sqlite:///{tmp_path / 'var' / 'catalog.sqlite3'}", s3_store, tmp_path, shared=False)
    yield e
    e.engine.dispose()


@pytest.fixture
def config(env: Env, seaweed, tmp_path: Path) -> Path:
    creds = seaweed.credentials
    path = tmp_path / "archive.toml"
    path.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "var"}"\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "{env.media}"\nlog_bucket = "{env.logs}"\n'
        f'[catalog]\nurl = "{env.url}"\n[secrets]\nkey_file = "{env.key_file}"\n',
        encoding="utf-8",
    )
    return path


def run(config: Path, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(["--config", str(config), *argv], out=out)
    return code, out.getvalue(), capsys.readouterr().err


def test_backup_restore_and_refusal_to_roll_a_log_back(env: Env, config: Path, tmp_path: Path, capsys) -> None:
    record(env, CAM, 3)
    assert run(config, "log", "sign", capsys=capsys)[0] == 0
    old = tmp_path / "backup-old"
    code, out, err = run(config, "backup", "create", str(old), capsys=capsys)
    assert code == 0, err
    manifest = json.loads((old / "manifest.json").read_text())
    names = {f["name"] for f in manifest["files"]}
    assert names == {"catalog.sqlite3", "keys/credentials.key"}, names
    for f in manifest["files"]:
        data = (old / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
        assert (old / f["name"]).stat().st_mode & 0o777 == 0o600
    assert (old / "keys/credentials.key").read_bytes() == env.key_file.read_bytes()
    assert old.stat().st_mode & 0o777 == 0o700 and (old / "manifest.json").stat().st_mode & 0o777 == 0o600

    record(env, CAM, 2, first=3)
    record(env, "cam-new", 1)  # a camera the old backup never saw
    assert run(config, "log", "sign", capsys=capsys)[0] == 0  # the log bucket now publishes size 5
    env.engine.dispose()
    live = tmp_path / "var" / "catalog.sqlite3"
    before = live.read_bytes()
    code, out, err = run(config, "backup", "restore", str(old), capsys=capsys)
    assert code == 2, out + err
    assert f"camera {CAM}:" in err and "refusing to restore" in err and "would roll back" in err, err
    assert "has 3 entries, the log bucket published a checkpoint of size 5" in err, err
    assert "camera cam-new: the log bucket holds signed checkpoints of its log, the backup not one entry" in err, err
    assert err.count("\n") == 1, err
    assert live.read_bytes() == before  # nothing replaced
    assert not list((tmp_path / "var").glob(".restore-*")) and not list((tmp_path / "var").glob("*before-restore*"))

    new = tmp_path / "backup-new"
    assert run(config, "backup", "create", str(new), capsys=capsys)[0] == 0
    live.write_bytes(b"")  # the catalog is lost (an empty file: a disk that came back blank)
    code, out, err = run(config, "backup", "restore", str(new), capsys=capsys)
    assert code == 0, out + err
    assert "2 camera logs consistent" in out, out
    assert "kept the replaced file as" in out and list((tmp_path / "var").glob("catalog.sqlite3.before-restore-*"))
    assert live.stat().st_mode & 0o777 == 0o600
    code, out, err = run(config, "verify", "log", capsys=capsys)
    assert code == 0, out + err
    code, out, err = run(config, "audit", "verify", capsys=capsys)  # the trail's published head is not ahead
    assert code == 0, out + err
    code, out, err = run(config, "audit", "events", "--json", capsys=capsys)
    actions = [e["action"] for e in json.loads(out)] if code == 0 else []
    assert actions[:2] == ["audit.verify", "backup.restore"] and "backup.create" in actions, out + err


def test_backup_refusals_exit_2_with_a_sentence(env: Env, config: Path, tmp_path: Path, capsys) -> None:
    record(env, CAM, 1)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    code, _, err = run(config, "backup", "create", str(taken), capsys=capsys)
    assert code == 2 and "is not an empty folder" in err, err
    good = tmp_path / "b"
    assert run(config, "backup", "create", str(good), capsys=capsys)[0] == 0
    key = good / "keys" / "credentials.key"
    key.write_bytes(b"\0" + key.read_bytes()[1:])  # one byte altered
    code, _, err = run(config, "backup", "restore", str(good), capsys=capsys)
    assert code == 2 and "does not match its SHA-256" in err and "credentials.key" in err, err
    code, _, err = run(config, "backup", "restore", str(tmp_path / "nothing"), capsys=capsys)
    assert code == 2 and "is not a backup" in err, err


def test_postgresql_backup_without_pg_dump_exits_2(tmp_path: Path, capsys, monkeypatch) -> None:
    cfg = tmp_path / "archive.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "var"}"\n[catalog]\nurl = "postgresql://x@127.0.0.1/x"\n')
    (tmp_path / "var" / "keys").mkdir(parents=True)
    (tmp_path / "var" / "keys" / "credentials.key").write_bytes(os.urandom(32))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code, _, err = run(cfg, "backup", "create", str(tmp_path / "b"), capsys=capsys)
    assert code == 2 and "pg_dump is not on PATH" in err, err
    assert not (tmp_path / "b").exists()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (pg_dump and pg_restore work on whole databases), dropped afterwards."""
    name = f"archive_bk_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(make_url(PG_BASE).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            leftovers = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                     {"p": f"{name}_restore_%"}).fetchall()  # fmt: skip
        admin.dispose()
        assert not leftovers, leftovers  # the restore check's scratch database is dropped


@pytest.mark.postgres
def test_postgresql_backup_restore_and_refusal(s3_store, seaweed, pg_database: str, tmp_path: Path, capsys) -> None:
    env = make_env(pg_database, s3_store, tmp_path, shared=False)
    creds = seaweed.credentials
    cfg = tmp_path / "archive.toml"
    cfg.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "var"}"\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "{env.media}"\nlog_bucket = "{env.logs}"\n'
        f'[catalog]\nurl = "{pg_database}"\n[secrets]\nkey_file = "{env.key_file}"\n',
        encoding="utf-8",
    )
    try:
        record(env, CAM, 2)
        assert run(cfg, "log", "sign", capsys=capsys)[0] == 0
        old, new = tmp_path / "old", tmp_path / "new"
        code, _, err = run(cfg, "backup", "create", str(old), capsys=capsys)
        assert code == 0, err
        assert (old / "catalog.pgdump").stat().st_mode & 0o777 == 0o600
        record(env, CAM, 2, first=2)
        assert run(cfg, "log", "sign", capsys=capsys)[0] == 0
        code, out, err = run(cfg, "backup", "restore", str(old), capsys=capsys)
        assert code == 2 and f"camera {CAM}: the backup's log has 2 entries" in err, out + err
        assert env.ledger.size(CAM) == 4  # the live catalog was not touched
        assert run(cfg, "backup", "create", str(new), capsys=capsys)[0] == 0
        env.engine.dispose()
        code, out, err = run(cfg, "backup", "restore", str(new), capsys=capsys)
        assert code == 0 and "1 camera logs consistent" in out, out + err
        code, out, err = run(cfg, "verify", "log", capsys=capsys)
        assert code == 0, out + err
    finally:
        env.engine.dispose()


def test_restore_refuses_an_audit_trail_behind_its_published_head(env: Env, config: Path, tmp_path: Path,
                                                                    capsys) -> None:  # fmt: skip
    record(env, CAM, 1)
    assert run(config, "log", "sign", capsys=capsys)[0] == 0
    assert run(config, "backup", "create", str(tmp_path / "a"), capsys=capsys)[0] == 0
    assert run(config, "backup", "create", str(tmp_path / "b"), capsys=capsys)[0] == 0  # a signed, published record
    env.engine.dispose()
    code, out, err = run(config, "backup", "restore", str(tmp_path / "a"), capsys=capsys)
    assert code == 2 and "refusing to restore" in err and "the audit trail: " in err, out + err
    assert f"camera {CAM}" not in err  # the camera log is as new as the bucket's checkpoint
    assert run(config, "backup", "restore", str(tmp_path / "b"), capsys=capsys)[0] == 0
