"""CLI commands that change state seal their audit entry before they print success (SPEC 7.6):
with the log bucket unreachable, `archive users|tokens|cameras|holds ...` must not say it worked
(exit 1); the change and its entry are stored, and the next signed head covers them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

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


def test_a_command_whose_seal_fails_does_not_print_success(renv: REnv, config: Path, tmp_path: Path,  # noqa: F811
                                                           capsys: Any) -> None:  # fmt: skip
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
    for argv, success in commands:
        capsys.readouterr()
        code, out, err = run(bad, *argv, capsys=capsys)
        assert code == 1 and success not in out, (argv, out, err)
        assert "Traceback" not in err and err.strip(), (argv, err)
    # the changes committed with their entries (obligation 1), unsealed; a reachable store seals them
    assert "sari" in {u.id for u in IdentityService(renv.engine).users()}
    code, out, _ = run(config, "users", "add", "tono", "--role", "investigator", "--agency", "police", *tok)
    assert code == 0 and "added tono" in out
    trail = _trail(renv)
    size = trail.size()
    with renv.engine.connect() as conn:
        from sqlalchemy import text

        signed = int(conn.execute(text("SELECT max(size) FROM audit_checkpoint")).scalar_one())
    assert signed == size  # the successful command sealed everything before it printed
    actions = [e.record.action for e in trail.events(AuditFilter(newest_first=False))]
    assert {"users.add", "tokens.create", "cameras.disable"} <= set(actions)


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
        with renv.engine.connect() as conn:
            from sqlalchemy import text

            signed = conn.execute(text("SELECT max(size) FROM audit_checkpoint")).scalar_one()
        assert signed == trail.size(), argv  # covered before the command answered
