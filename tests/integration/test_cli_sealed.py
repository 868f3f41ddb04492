"""CLI commands that change state seal their audit entry before they print success (SPEC 7.6):
the entry's hash is fsynced to the local audit journal (<data_dir>/audit/journal), so a command
needs no object store: with the log bucket unreachable `archive users|tokens|cameras|holds ...`
still work, and deleting their entries from the catalog is reported by `archive audit verify`.
When the journal cannot be written, the command must not say it worked (exit 1); the change and
its entry are stored, and the next seal covers them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from archive.audit.query import AuditFilter
from archive.identity.model import Role
from archive.identity.service import IdentityService
from tests.integration.retention_support import DAY, REnv
from tests.integration.test_cli_identity import _token, _trail
from tests.integration.test_retention_cli import config, renv, run  # noqa: F401  (fixtures)


def _unreachable_store(config: Path, tmp_path: Path) -> Path:  # noqa: F811
    text = config.read_text(encoding="utf-8")
    start = text.index('endpoint = "') + len('endpoint = "')
    broken = text[:start] + "http://127.0.0.1:9" + text[text.index('"', start) :]
    path = tmp_path / "unreachable.toml"
    path.write_text(broken, encoding="utf-8")
    return path


def _journal(tmp_path: Path) -> list[tuple[int, bytes]]:
    from archive.audit.journal import AuditJournal

    return AuditJournal(tmp_path / "var" / "audit" / "journal").read()


def test_commands_need_no_store_and_deleted_entries_are_detected(renv: REnv, config: Path,  # noqa: F811
                                                                  tmp_path: Path, capsys: Any) -> None:  # fmt: skip
    admin = _token(renv, tmp_path, "root3", Role.ADMIN, agency="ops")
    inv = _token(renv, tmp_path, "budi", Role.INVESTIGATOR)
    bad = _unreachable_store(config, tmp_path)
    tok = ["--token-file", str(admin)]
    now = renv.clock()
    hold = ["holds", "add", "--case", "LP/5", "--reason", "robbery", "--camera", renv.cam("lobby"), "--from",
            (now - 2 * DAY).isoformat(), "--to", (now - 2 * DAY + timedelta(seconds=20)).isoformat(),
            "--token-file", str(inv)]  # fmt: skip
    commands = [
        (["users", "add", "sari", "--role", "investigator", "--agency", "police", *tok], "added sari"),
        (["tokens", "create", "budi", *tok], "arc1_"),
        (["cameras", "disable", renv.cam("lobby"), *tok], "disabled"),
        (hold, "created"),
    ]
    trail = _trail(renv)
    for argv, success in commands:
        capsys.readouterr()
        code, out, err = run(bad, *argv, capsys=capsys)
        assert code == 0 and success in out, (argv, out, err)  # the store is never reached
        assert _journal(tmp_path)[-1][0] == trail.size() - 1, argv  # covered before it answered
    # the catalog attacker deletes the last entries (no head was published for them): detected
    size = trail.size()
    with renv.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        conn.execute(text("DROP TRIGGER audit_checkpoint_no_delete"))
        conn.execute(text("DELETE FROM audit_event WHERE seq >= :n"), {"n": size - 2})
        conn.execute(text("DELETE FROM audit_checkpoint"))
    code, out, _ = run(config, "audit", "verify", "--token-file", str(admin))
    assert code == 1 and f"the audit journal records entry seq {size - 1} but the catalog holds {size - 2}" in out, out


def test_a_command_whose_journal_fails_does_not_print_success(renv: REnv, config: Path,  # noqa: F811
                                                              tmp_path: Path, capsys: Any) -> None:  # fmt: skip
    admin = _token(renv, tmp_path, "root5", Role.ADMIN, agency="ops")
    tok = ["--token-file", str(admin)]
    journal = tmp_path / "var" / "audit" / "journal"
    journal.unlink(missing_ok=True)
    journal.mkdir(parents=True)  # cannot be opened as the journal file
    for argv, success in ((["users", "add", "sari", "--role", "investigator", "--agency", "police", *tok], "added"),
                          (["tokens", "create", "root5", *tok], "arc1_")):  # fmt: skip
        capsys.readouterr()
        code, out, err = run(config, *argv, capsys=capsys)
        assert code == 1 and success not in out, (argv, out, err)
        assert "Traceback" not in err and "audit journal" in err, (argv, err)
    # the changes committed with their entries (obligation 1), not yet covered; the next seal covers them
    assert "sari" in {u.id for u in IdentityService(renv.engine).users()}
    journal.rmdir()
    code, out, _ = run(config, "users", "add", "tono", "--role", "investigator", "--agency", "police", *tok)
    assert code == 0 and "added tono" in out
    trail = _trail(renv)
    assert [s for s, _ in _journal(tmp_path)] == list(range(trail.size()))  # every entry, the failed ones too
    actions = [e.record.action for e in trail.events(AuditFilter(newest_first=False))]
    assert {"users.add", "tokens.create"} <= set(actions)


def test_every_successful_operator_command_is_sealed_before_it_answers(renv: REnv, config: Path,  # noqa: F811
                                                                       tmp_path: Path) -> None:  # fmt: skip
    admin = _token(renv, tmp_path, "root4", Role.ADMIN, agency="ops")
    tok = ["--token-file", str(admin)]
    trail = _trail(renv)
    for argv in (["users", "add", "dewi", "--role", "legal", "--agency", "police", *tok],
                 ["tokens", "create", "dewi", *tok], ["cameras", "disable", renv.cam("lobby"), *tok],
                 ["cameras", "enable", renv.cam("lobby"), *tok], ["users", "revoke", "dewi", *tok]):  # fmt: skip
        code, out, _ = run(config, *argv)
        assert code == 0, (argv, out)
        assert _journal(tmp_path)[-1][0] == trail.size() - 1, argv  # covered before the command answered
    assert trail.verify().ok
