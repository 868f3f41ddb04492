"""Separate keys per purpose (issue 15 item 4, SPEC.md 7.1): camera logs, the audit log and
export manifests each have their own key ring, so a holder of the export (or audit) key cannot
sign a camera checkpoint that verifies; an older archive, whose one key signed all, keeps
verifying and is separated by rotation."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from archive.audit.entry import AuditRecord
from archive.audit.service import AuditTrail
from archive.cli import main
from archive.integrity import Checkpoint, IntegrityError, sign_note, verify_checkpoint
from tests.integration.ledger_support import Env, make_env, record

CAM = "cam-1"


@pytest.fixture
def env(s3_store, tmp_path: Path):
    e = make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path, shared=False)
    yield e
    e.engine.dispose()


def _trail(env: Env, *, old_archive: bool = False) -> AuditTrail:
    """The audit trail as the runtime builds it (``old_archive``: as before separate keys)."""
    keys = env.ledger.keys if old_archive else env.ledger.audit_keys
    return AuditTrail(env.engine, keys, env.store, origin_prefix=env.ledger.settings.origin_prefix,
                      log_bucket=env.logs, retention=timedelta(days=1),
                      legacy_keys=None if old_archive else env.ledger.keys)  # fmt: skip


def _event(trail: AuditTrail, action: str) -> None:
    trail.record(AuditRecord(at_us=1_741_942_800_000_000, ip="10.0.0.7", action=action, method="CLI",
                             path="/cli", status=200, actor="admin1"))  # fmt: skip


def test_audit_key_alone_cannot_sign_a_camera_checkpoint(env: Env) -> None:
    record(env, CAM, 2)
    view = env.ledger.checkpoint(CAM)
    trail = _trail(env)
    _event(trail, "keys.show")
    assert trail.verify().ok
    audit_key, camera_key = env.ledger.audit_keys.active(), env.ledger.keys.active()
    assert audit_key.public.public_key != camera_key.public.public_key
    assert audit_key.name == f"{env.ledger.keys.name}/audit"
    origin = env.ledger.log_id(CAM)
    assert view is not None
    forged = sign_note(Checkpoint(origin, view.size + 1, b"\x07" * 32).text(),
                       [env.ledger.audit_keys.log_signer(audit_key.key_id, origin)])  # fmt: skip
    with pytest.raises(IntegrityError):
        verify_checkpoint(forged.encode(), env.ledger.signer.trusted_keys(origin), origin=origin)
    verify_checkpoint(view.note, env.ledger.signer.trusted_keys(origin), origin=origin)  # the real one does


def test_export_key_alone_cannot_sign_a_camera_checkpoint(env: Env) -> None:
    record(env, CAM, 2)
    view = env.ledger.checkpoint(CAM)
    assert view is not None
    export = env.ledger.export_keys.active()
    assert export.name == f"{env.ledger.keys.name}/export"
    assert export.public.public_key not in {k.public.public_key for k in env.ledger.keys.records()}
    assert export.public.public_key != env.ledger.audit_keys.active().public.public_key
    origin = env.ledger.log_id(CAM)
    forged = sign_note(Checkpoint(origin, view.size + 1, b"\x07" * 32).text(),
                       [env.ledger.export_keys.log_signer(export.key_id, origin)])  # fmt: skip
    with pytest.raises(IntegrityError):
        verify_checkpoint(forged.encode(), env.ledger.signer.trusted_keys(origin), origin=origin)


def test_older_archive_audit_log_keeps_verifying_and_one_rotation_separates(env: Env) -> None:
    old = _trail(env, old_archive=True)  # signed by the one key, as before
    _event(old, "users.add")
    assert old.verify().ok and not env.ledger.audit_keys.records()
    trail = _trail(env)  # upgraded: the audit ring adopts the key that signed the old checkpoints
    assert trail.verify().ok
    adopted = env.ledger.audit_keys.records()
    assert [k.public.public_key for k in adopted] == [env.ledger.keys.active().public.public_key]
    before, after = env.ledger.rotate_keys("audit")
    assert before.key_id == adopted[0].key_id and after.public.public_key != env.ledger.keys.active().public.public_key
    _event(trail, "keys.rotate")
    report = trail.verify()
    assert report.ok and report.checkpoints_checked >= 2
    assert env.ledger.keys.active().key_id == env.ledger.keys.records()[0].key_id  # camera key untouched
    # a fresh ring on an audit log never signed adopts nothing (new archives start separated)
    assert not env.ledger.audit_keys.adopt(env.ledger.keys)


def test_cli_rotates_the_audit_key_only(env: Env, seaweed, tmp_path: Path) -> None:
    creds = seaweed.credentials
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "var"}"\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "{env.media}"\nlog_bucket = "{env.logs}"\n'
        f'[catalog]\nurl = "{env.url}"\n[secrets]\nkey_file = "{env.key_file}"\n',
        encoding="utf-8",
    )

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        return main(["--config", str(config), *argv], out=out), out.getvalue()

    record(env, CAM, 2)
    env.ledger.checkpoint(CAM)
    camera = env.ledger.keys.active()
    code, out = run("keys", "rotate", "--purpose", "audit")
    assert code == 0 and "audit log is signed by the new key" in out, out
    assert env.ledger.keys.active().key_id == camera.key_id and len(env.ledger.keys.records()) == 1
    code, out = run("keys", "show")
    assert code == 0 and "# camera key" in out and out.count("# audit key") == 2, out
    assert run("verify", "camera", CAM)[0] == 0
    export = env.ledger.export_keys.active()
    code, out = run("keys", "rotate", "--purpose", "export")
    assert code == 0 and "new packages are signed by the new export key" in out, out
    assert env.ledger.export_keys.active().key_id != export.key_id
    assert env.ledger.keys.active().key_id == camera.key_id
    code, out = run("export", "key")
    assert code == 0 and out.count("fingerprint sha256:") == 2 and "# verify with: --trust" in out, out
