"""The ledger's CLI commands end to end: keys, log sign/checkpoint, witness, verify (exit codes)."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from archive.cli import main
from tests.integration.ledger_support import SEG, T0, Env, make_env, record

CAM = "cam-1"


@pytest.fixture
def env(s3_store, tmp_path: Path):
    e = make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path, shared=False)
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


def run(config: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--config", str(config), *argv], out=out)
    return code, out.getvalue()


def test_cli_sign_show_verify_witness_rotate(env: Env, config: Path, tmp_path: Path, capsys) -> None:
    record(env, CAM, 4)
    env.ledger.append_gap(CAM, T0 + 4 * SEG, T0 + 5 * SEG, "camera_unreachable", "timeout")
    record(env, CAM, 2, first=5)
    code, out = run(config, "log", "sign", CAM)
    assert code == 0 and "signed size 7" in out
    code, out = run(config, "keys", "show")
    assert code == 0 and "PRIVATE" not in out
    log_key = next(line for line in out.splitlines() if line.startswith("archive.mojokerto/camera/cam-1+"))
    (tmp_path / "trusted.keys").write_text(out, encoding="utf-8")

    code, out = run(config, "verify", "camera", CAM, "--trusted", str(tmp_path / "trusted.keys"))
    assert code == 0, out
    assert "OK: camera cam-1" in out and "7 entries" in out and "6 segments" in out
    code, out = run(config, "verify", "camera", CAM, "--from", "2025-03-14T09:00:10Z", "--to",
                    "2025-03-14T16:00:35+07:00", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["segments_checked"] == 3, out
    code, out = run(config, "verify", "log")
    assert code == 0 and "OK" in out

    # witness: key file, standalone cosign, store, serve
    key_file = tmp_path / "w.key"
    code, out = run(config, "witness", "keygen", "police.example.org/w1", "--out", str(key_file))
    assert code == 0 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    witness_vkey = out.strip().splitlines()[-1]
    code, note = run(config, "log", "checkpoint", CAM)
    (tmp_path / "cp7.note").write_text(note, encoding="utf-8")
    code, line = run(config, "witness", "cosign", "--key", str(key_file), "--checkpoint", str(tmp_path / "cp7.note"),
                     "--log-key", log_key, "--time", "1741944420")
    assert code == 0 and line.startswith("\u2014 police.example.org/w1 ")
    (tmp_path / "line").write_text(line, encoding="utf-8")
    code, out = run(config, "witness", "add-cosignature", CAM, "7", str(tmp_path / "line"), "--witness-key",
                    witness_vkey)
    assert code == 0, out
    code, note = run(config, "log", "checkpoint", CAM)
    assert line.strip() in note

    # next checkpoint: cosign only with the consistency proof from 7
    record(env, CAM, 1, first=7)
    run(config, "log", "sign")
    code, note9 = run(config, "log", "checkpoint", CAM)
    (tmp_path / "cp8.note").write_text(note9, encoding="utf-8")
    code, proof = run(config, "witness", "proof", CAM, "7")
    (tmp_path / "proof.json").write_text(proof, encoding="utf-8")
    args = ["witness", "cosign", "--key", str(key_file), "--checkpoint", str(tmp_path / "cp8.note"), "--log-key",
            log_key, "--previous", str(tmp_path / "cp7.note")]
    code, _ = run(config, *args)
    assert code == 1 and "consistency proof is needed" in capsys.readouterr().err
    code, line = run(config, *args, "--proof", str(tmp_path / "proof.json"))
    assert code == 0 and line.startswith("\u2014 ")

    # rotation keeps everything verifiable
    code, out = run(config, "keys", "rotate")
    assert code == 0 and "retired" in out
    assert run(config, "verify", "log", CAM)[0] == 0
    assert run(config, "verify", "camera", CAM)[0] == 0


def test_cli_verify_fails_with_a_located_message(env: Env, config: Path, capsys) -> None:
    record(env, CAM, 3)
    env.ledger.checkpoint(CAM)
    with env.engine.connect() as conn:
        seg = conn.exec_driver_sql("SELECT object_key, version_id FROM segment WHERE seq = 1").one()
    env.store.delete_version(env.media, seg[0], seg[1], bypass_governance=True)
    code, out = run(config, "verify", "camera", CAM)
    assert code == 1
    assert f"FAIL camera cam-1 seq 1 object {env.media}/{seg[0]}?versionId={seg[1]}: object version is missing" in out
    assert run(config, "verify", "camera", CAM, "--from", "2025-03-14T09:00:00Z")[0] == 2
    assert "both --from and --to" in capsys.readouterr().err
    assert run(config, "verify", "camera", CAM, "--from", "2025-03-14T09:00:00", "--to", "2025-03-14T10:00:00")[0] == 2
