"""``archive retention ...`` and ``archive holds ...`` end to end (exit codes, output)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from archive.cli import main
from tests.integration.retention_support import DAY, REnv, make_renv, starts, wait_until


@pytest.fixture
def renv(s3_store, tmp_path: Path):
    env = make_renv(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path,
                    origin_prefix="archive.mojokerto", own_log_bucket=True)
    yield env
    env.engine.dispose()


@pytest.fixture
def config(renv: REnv, seaweed, tmp_path: Path) -> Path:
    creds = seaweed.credentials
    registry = tmp_path / "cameras.yaml"
    registry.write_text(
        "owners:\n  - {id: sunrise-mall, name: Sunrise Mall, kind: private, agencies: [police]}\n"
        "  - {id: dishub, name: Dishub, kind: government, agencies: [police]}\n"
        "cameras:\n"
        + "".join(f"  - {{id: {c.id}, name: {c.name}, owner: {c.owner_id}, stream_url: 'rtsp://10.0.0.1/x',"
                  f" latitude: -7.47, longitude: 112.43, location: Mojokerto}}\n"
                  for c in renv.cams if c.owner_id in ("sunrise-mall", "dishub")),
        encoding="utf-8")
    path = tmp_path / "archive.toml"
    path.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "var"}"\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "{renv.media}"\n'
        f'log_bucket = "{renv.logs}"\ndefault_retention_days = 14\ncapacity_bytes = 1000000000\n'
        f'[catalog]\nurl = "sqlite:///{tmp_path / "catalog.sqlite3"}"\n'
        f'[secrets]\nkey_file = "{tmp_path / "keys" / "credentials.key"}"\n'
        f'[retention]\npolicies_dir = "{renv.policies}"\n',
        encoding="utf-8")
    code, out, _ = run(path, "cameras", "import", str(registry))
    assert code == 0, out
    return path


def token(renv: REnv, tmp_path: Path, user: str, role: str) -> str:
    """A token file of a new registered user (the CLI acts as a token's user)."""
    from archive.identity.model import Role
    from archive.identity.service import IdentityService

    ident = IdentityService(renv.engine)
    ident.add_user(user, user.title(), Role(role), agency="police")
    path = tmp_path / f"{user}.token"
    path.write_text(ident.create_token(user, days=1).secret, encoding="utf-8")
    return str(path)


def run(config: Path, *argv: str, capsys=None) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(["--config", str(config), *argv], out=out)
    err = capsys.readouterr().err if capsys is not None else ""
    return code, out.getvalue(), err


def test_check_plan_hold_run_release(renv: REnv, config: Path, capsys, tmp_path: Path) -> None:
    budi, cron = token(renv, tmp_path, "budi", "investigator"), token(renv, tmp_path, "cron", "admin")
    citra = token(renv, tmp_path, "citra", "legal")
    lobby = renv.cam("lobby")
    now = renv.clock()
    renv.record(lobby, starts(now - 20 * DAY, 6), renv.upload_lock())
    wait_until(renv.clock() + timedelta(seconds=2))

    code, out, _ = run(config, "retention", "check")
    assert code == 0 and "sunrise-mall" in out and "keep  14d" in out and "exports: owner" in out

    code, out, _ = run(config, "retention", "plan")
    assert code == 0, out
    assert "sunrise-mall" in out and lobby in out and "total: 6 segments" in out
    code, out, _ = run(config, "retention", "plan", "--json", "--owner", "sunrise-mall")
    doc = json.loads(out)
    assert doc["count"] == 6 and doc["owners"][0]["cameras"][0]["camera"] == lobby
    code, out, _ = run(config, "retention", "plan", "--json", "--at", (now - 10 * DAY).isoformat())
    assert json.loads(out)["count"] == 0

    frm, to = (now - 20 * DAY).isoformat(), (now - 20 * DAY + timedelta(seconds=20)).isoformat()
    code, out, _ = run(config, "holds", "add", "--case", "LP/7/2025", "--reason", "robbery", "--camera", lobby,
                       "--from", frm, "--to", to, "--token-file", budi)
    assert code == 0 and "legal hold 1 created" in out and "2 versions held" in out, out
    code, out, _ = run(config, "holds", "list", "--json")
    holds = json.loads(out)
    assert [h["case"] for h in holds] == ["LP/7/2025"] and holds[0]["created_by"] == "budi"

    code, out, _ = run(config, "retention", "run", "--token-file", cron)
    assert code == 0 and "deleted 4 of 4 planned" in out, out
    code, out, err = run(config, "holds", "release", "1", "--reason", "done", "--token-file", budi,
                         capsys=capsys)
    assert code == 1 and "may not release" in err
    code, out, _ = run(config, "holds", "release", "1", "--reason", "done", "--token-file", citra)
    assert code == 0 and "released by citra" in out and "2 released" in out
    code, out, _ = run(config, "retention", "run", "--json", "--token-file", cron)
    assert code == 0 and json.loads(out)["deleted"] == 2
    code, out, _ = run(config, "retention", "runs")
    assert code == 0 and out.count(" ok ") == 2
    code, out, _ = run(config, "holds", "list", "--all")
    assert "released" in out and "1 hold(s)" in out


def test_bad_input_exits_2_with_file_and_line(renv: REnv, config: Path, tmp_path: Path, capsys) -> None:
    budi, inv = token(renv, tmp_path, "budi", "investigator"), "--token-file"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "_city.toml").write_text((renv.policies / "_city.toml").read_text())
    (bad / "x.toml").write_text('owner = "x"\nkeep_days = 30\nexport_approval = "owner"\nretain = 1\n')
    code, _, err = run(config, "retention", "check", "--dir", str(bad), capsys=capsys)
    assert code == 2 and f"{bad / 'x.toml'}:4: unknown key 'retain'" in err
    code, _, err = run(config, "holds", "add", "--case", "C", "--reason", "r", "--camera", "nope", "--from",
                       "2025-01-01T00:00:00Z", "--to", "2025-01-02T00:00:00Z", inv, budi, capsys=capsys)
    assert code == 2 and "unknown camera" in err
    code, _, err = run(config, "holds", "add", "--case", "C", "--reason", "r", "--camera", renv.cam("lobby"),
                       "--from", "2025-01-01T00:00:00", "--to", "2025-01-02T00:00:00Z", inv, budi, capsys=capsys)
    assert code == 2 and "time zone" in err
    code, _, err = run(config, "retention", "run", "--confirm", inv, budi, capsys=capsys)
    assert code == 1 and "only an admin" in err
