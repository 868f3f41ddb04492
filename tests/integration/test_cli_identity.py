"""The CLI acts as a registered user (issue 13 item 6): holds, retention runs and user changes
go into the API's signed audit trail under the token's user; a free-text ``--by``/``--role`` is
refused; the separate hold log is no longer written by the CLI."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from archive.audit.query import AuditFilter
from archive.audit.service import AuditTrail
from archive.identity.model import Role
from archive.identity.service import IdentityService
from archive.model import us_from_utc
from archive.retention.audit import HoldActor
from archive.retention.tables import AUDIT as HOLD_LOG
from tests.integration.retention_support import DAY, REnv, starts
from tests.integration.test_retention_cli import config, renv, run  # noqa: F401  (fixtures)


def _token(env: REnv, tmp_path: Path, user: str, role: Role, agency: str = "police") -> Path:
    ident = IdentityService(env.engine)
    ident.add_user(user, user.title(), role, agency=agency)
    path = tmp_path / f"{user}.token"
    path.write_text(ident.create_token(user, days=1).secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _trail(env: REnv) -> AuditTrail:
    return AuditTrail(env.engine, env.ledger.audit_keys, None, origin_prefix="archive.mojokerto", log_bucket=env.logs)


def _hold_log_rows(env: REnv) -> int:
    with env.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(HOLD_LOG)).scalar_one())


def _add_hold(renv: REnv, config: Path, token: Path) -> tuple[int, str]:  # noqa: F811
    now = renv.clock()
    frm, to = (now - 2 * DAY).isoformat(), (now - 2 * DAY + timedelta(seconds=20)).isoformat()
    code, out, _ = run(config, "holds", "add", "--case", "LP/9", "--reason", "robbery", "--camera",
                       renv.cam("lobby"), "--from", frm, "--to", to, "--token-file", str(token))
    return code, out


def test_free_text_identity_is_refused_and_releases_nothing(renv: REnv, config: Path, tmp_path: Path,  # noqa: F811
                                                            capsys) -> None:
    renv.record(renv.cam("lobby"), starts(renv.clock() - 2 * DAY, 2), renv.upload_lock())
    now = renv.clock()
    hold, _ = renv.service().holds.create(HoldActor("budi", Role.INVESTIGATOR), case_id="LP/9", reason="robbery",
                                    cameras=[renv.cam("lobby")], start_us=us_from_utc(now - 2 * DAY),
                                    end_us=us_from_utc(now - DAY))
    code, out, err = run(config, "holds", "release", str(hold.id), "--reason", "x", "--by", "ghost-user",
                         "--role", "admin", capsys=capsys)
    assert code == 2, (code, out, err)
    assert "--by" in err and "token" in err and "Traceback" not in err and err.count("\n") == 1
    code, out, _ = run(config, "holds", "list")
    assert "1 hold(s)" in out and "released" not in out
    code, _, err = run(config, "holds", "release", str(hold.id), "--reason", "x", capsys=capsys)
    assert code == 2 and "--token-file" in err  # no token: no identity, nothing released


def test_cli_actions_go_into_the_signed_trail_as_the_token_user(renv: REnv, config: Path,  # noqa: F811
                                                                 tmp_path: Path, monkeypatch) -> None:
    renv.record(renv.cam("lobby"), starts(renv.clock() - 2 * DAY, 2), renv.upload_lock())
    before = _hold_log_rows(renv)
    code, out = _add_hold(renv, config, _token(renv, tmp_path, "budi", Role.INVESTIGATOR))
    assert code == 0, out
    monkeypatch.setenv("ARCHIVE_TOKEN", _token(renv, tmp_path, "citra", Role.LEGAL).read_text().strip())
    code, out, _ = run(config, "holds", "release", "1", "--reason", "case closed")
    assert code == 0 and "released by citra" in out, out
    admin = _token(renv, tmp_path, "andi", Role.ADMIN)
    monkeypatch.delenv("ARCHIVE_TOKEN")
    code, out, _ = run(config, "retention", "run", "--token-file", str(admin))
    assert code == 0, out
    trail = _trail(renv)
    got = {(e.record.action, e.record.actor, e.record.role) for e in trail.events(AuditFilter(newest_first=False))}
    assert ("hold.create", "budi", "investigator") in got
    assert ("hold.release", "citra", "legal") in got
    assert ("retention.run", "andi", "admin") in got
    create = trail.events(AuditFilter(action="hold.create"))[0].record
    assert create.method == "CLI" and create.token and create.agency == "police"
    assert _hold_log_rows(renv) == before  # the separate hold log chain is no longer written
    assert trail.verify().ok
    code, out, _ = run(config, "audit", "verify", "--token-file", str(admin))
    assert code == 0 and out.rstrip().endswith("OK"), out

    # SPEC 7.6: the CLI's sealed actions cannot be erased from the catalog unnoticed
    with renv.engine.begin() as conn:
        signed = int(conn.execute(text("SELECT max(size) FROM audit_checkpoint")).scalar_one())
        conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        conn.execute(text("DROP TRIGGER audit_checkpoint_no_delete"))
        conn.execute(text("DELETE FROM audit_event WHERE seq >= :n"), {"n": signed - 1})
        conn.execute(text("DELETE FROM audit_checkpoint"))
    code, out, _ = run(config, "audit", "verify", "--token-file", str(admin))
    assert code == 1 and f"a checkpoint of size {signed} was published" in out, out


def test_first_admin_is_created_by_the_os_user_owning_the_data_dir(renv: REnv, config: Path,  # noqa: F811
                                                                   tmp_path: Path, capsys) -> None:
    code, out, _ = run(config, "users", "add", "root-admin", "--role", "admin", "--agency", "ops")
    assert code == 0, out
    trail = _trail(renv)
    rec = trail.events(AuditFilter(action="users.add"))[0].record
    assert rec.actor == f"os:{getpass.getuser()}" and rec.role == "admin" and rec.status == 200
    imported = trail.events(AuditFilter(action="cameras.import"))[0].record  # the fixture's import
    assert imported.actor == f"os:{getpass.getuser()}" and imported.method == "CLI"
    code, _, err = run(config, "cameras", "disable", renv.cam("lobby"), "--by", "ghost-user", capsys=capsys)
    assert code == 2 and "--by" in err
    investigator = _token(renv, tmp_path, "budi", Role.INVESTIGATOR)
    code, _, err = run(config, "users", "add", "x-admin", "--role", "admin", "--agency", "ops",
                       "--token-file", str(investigator), capsys=capsys)
    assert code == 1 and "only an admin" in err
    assert [e.record.status for e in trail.events(AuditFilter(action="users.add", newest_first=False))] == [200]


def test_cli_user_token_and_camera_changes_commit_with_their_entry(renv: REnv, config: Path, tmp_path: Path,  # noqa: F811
                                                                    monkeypatch, capsys) -> None:  # fmt: skip
    """SPEC 7.6 obligation 1 for the server operator's commands: when the audit entry cannot be
    appended, `archive users|tokens|cameras ...` store nothing and exit 1 (not 0)."""
    from archive.errors import CatalogError

    admin = _token(renv, tmp_path, "root2", Role.ADMIN, agency="ops")
    ident = IdentityService(renv.engine)
    spare = ident.create_token("root2", days=1, label="spare")
    lobby = renv.cam("lobby")

    def broken(self: AuditTrail, conn: object, record: object) -> None:
        raise CatalogError("audit append refused")

    monkeypatch.setattr(AuditTrail, "record_in", broken)
    tok = ["--token-file", str(admin)]
    code, _, err = run(config, "users", "add", "ghost", "--role", "investigator", "--agency", "police", *tok,
                       capsys=capsys)
    assert code == 1 and "Traceback" not in err, err
    assert "ghost" not in {u.id for u in ident.users()}
    assert run(config, "tokens", "revoke", spare.token.id, *tok)[0] == 1
    assert ident.authenticate(spare.secret).user_id == "root2"
    before = len(ident.tokens("root2"))
    assert run(config, "tokens", "create", "root2", *tok)[0] == 1
    assert len(ident.tokens("root2")) == before
    assert run(config, "cameras", "disable", lobby, *tok)[0] == 1
    with renv.engine.connect() as conn:
        assert conn.execute(text("SELECT enabled FROM camera WHERE id = :i"), {"i": lobby}).scalar_one()
    monkeypatch.undo()
    assert run(config, "users", "add", "ghost", "--role", "investigator", "--agency", "police", *tok)[0] == 0
    entries = [e.record for e in _trail(renv).events(AuditFilter(actor="root2", newest_first=False))]
    assert [(r.action, r.status, r.detail.get("change")) for r in entries if r.status == 200] == [
        ("users.add", 200, "user.add")]
