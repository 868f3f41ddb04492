"""``archive log sign`` with ``[ledger] witnesses`` (the runtime's checkpointer and witness
submission, as ``archive up`` wires them) against a real ``archive witness serve``: every signed
checkpoint is cosigned, the next one with a consistency proof; a witness that does not answer
makes the command exit 1 naming it, while the live witness still cosigns."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.cli import main
from archive.integrity import SignedNote, require_cosignatures
from archive.ledger.witness import witness_keygen
from tests.fixtures.ports import free_port
from tests.integration.ledger_support import Env, make_env, record
from tests.integration.witness_support import WitnessProcess, make_witness

CAM = "cam-w1"


@pytest.fixture(scope="module")
def env(s3_store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("witness-cli")
    e = make_env(f"sqlite:///{tmp / 'catalog.sqlite3'}", s3_store, tmp)
    yield e
    e.engine.dispose()


@pytest.fixture(scope="module")
def witness(env: Env) -> Iterator[WitnessProcess]:
    prefix = env.ledger.settings.origin_prefix + "/camera/"
    w = make_witness(env.key_file.parent.parent / "witness", prefix, [env.ledger.keys.active().public.encode()])
    yield w.start()
    w.stop()


def _config(env: Env, seaweed, path: Path, witnesses: list[tuple[str, str]]) -> Path:
    creds = seaweed.credentials
    listed = ", ".join(f'{{url = "{u}", key = "{k}"}}' for u, k in witnesses)
    path.write_text(
        f'[paths]\ndata_dir = "{path.parent / "var"}"\n'
        f'[storage]\nmode = "s3"\nendpoint = "{seaweed.endpoint}"\naccess_key = "{creds.access_key}"\n'
        f'secret_key = "{creds.secret_key}"\nsecure = false\nmedia_bucket = "{env.media}"\nlog_bucket = "{env.logs}"\n'
        f'[catalog]\nurl = "{env.url}"\n[secrets]\nkey_file = "{env.key_file}"\n'
        f'[ledger]\norigin_prefix = "{env.ledger.settings.origin_prefix}"\n'
        f'media_prefix_format = "{env.tag}/{{camera}}/"\nlog_retention_days = 1\nwitnesses = [{listed}]\n',
        encoding="utf-8",
    )
    return path


def _run(config: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["--config", str(config), *argv], out=out), out.getvalue()


def test_log_sign_gets_checkpoints_cosigned(env: Env, witness: WitnessProcess, seaweed, tmp_path: Path) -> None:
    key = witness.signer.verifier_key
    cfg = _config(env, seaweed, tmp_path / "archive.toml", [(witness.url, key.encode())])
    record(env, CAM, 3)
    assert _run(cfg, "log", "sign", CAM) == (0, f"{CAM}: signed size 3\n")
    record(env, CAM, 2, first=3)
    code, out = _run(cfg, "log", "sign")
    assert code == 0 and f"{CAM}: signed" in out, out
    view = env.ledger.signer.latest(CAM)
    assert view is not None and view.size == 5 and view.cosignatures == 1
    require_cosignatures(SignedNote.parse(view.note), [key], 1)
    assert env.ledger.signer.at(CAM, 3) is not None and env.ledger.signer.at(CAM, 3).cosignatures == 1  # type: ignore[union-attr]

    dead = witness_keygen("court.example/witness").verifier_key.encode()
    dead_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    both = _config(env, seaweed, tmp_path / "both.toml", [(witness.url, key.encode()), (dead_url, dead)])
    record(env, CAM, 1, first=5)
    code, out = _run(both, "log", "sign", CAM)
    assert code == 1 and f"{CAM}: signed size 6" in out and f"{CAM}: NOT cosigned by every witness" in out, out
    assert "court.example/witness" in out and "no answer" in out
    view = env.ledger.signer.latest(CAM)
    assert view is not None and view.size == 6 and view.cosignatures == 1  # the live witness cosigned
