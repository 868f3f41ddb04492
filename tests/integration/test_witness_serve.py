"""``archive witness serve`` as a real process (c2sp.org/tlog-witness): it cosigns a checkpoint that
extends what it saw, answers 409 with its size on a size mismatch and for a second root at its
size (a fork), 422 for a proof that does not link, 404/403/400 for an unknown log, a checkpoint
not signed by the log's key, malformed input; it keeps its state across a restart and refuses a
second process on the same state. One witness process per module (restarted once)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from archive.integrity import (
    Checkpoint,
    MemoryTree,
    SignedNote,
    Signer,
    consistency_proof,
    leaf_hash,
    require_cosignatures,
    sign_note,
)
from archive.witness.protocol import AddCheckpoint
from tests.integration.witness_support import WitnessProcess, make_witness

PREFIX = "w.example/camera/"
ORIGIN = PREFIX + "cam-1"


def _tree(n: int, salt: str = "") -> MemoryTree:
    t = MemoryTree()
    t.extend(leaf_hash(hashlib.sha256(f"{salt}{i}".encode()).digest()) for i in range(n))
    return t


def _note(signer: Signer, tree: MemoryTree, origin: str = ORIGIN) -> bytes:
    return sign_note(Checkpoint(origin, tree.size, tree.root()).text(), [signer]).to_bytes()


def _req(old: int, tree: MemoryTree, signer: Signer, origin: str = ORIGIN) -> bytes:
    proof = consistency_proof(old, tree.size, tree) if 0 < old < tree.size else ()
    return AddCheckpoint(old, proof, _note(signer, tree, origin)).encode()


@pytest.fixture(scope="module")
def log_seed() -> bytes:
    return hashlib.sha256(b"witness test log key").digest()


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory, log_seed: bytes) -> Iterator[WitnessProcess]:
    record_key = Signer.from_seed("w.example", log_seed)  # named after the key record, as 'archive keys show'
    w = make_witness(tmp_path_factory.mktemp("witness"), PREFIX, [record_key.verifier_key.encode()]).start()
    yield w
    if w.proc is not None:
        w.stop()


def test_cosigns_refuses_forks_and_keeps_its_state(witness: WitnessProcess, log_seed: bytes) -> None:
    log = Signer.from_seed(ORIGIN, log_seed)
    t3, t5 = _tree(3), _tree(5)
    status, ctype, body = witness.post(_req(0, t3, log))
    assert status == 200, body
    note = SignedNote.parse(_note(log, t3).decode() + body.decode())
    (cosig,) = require_cosignatures(note, [witness.signer.verifier_key], 1)
    assert cosig.name == "police.example/witness"

    assert witness.post(_req(3, t5, log))[0] == 200  # extends: cosigned
    status, ctype, body = witness.post(_req(3, t5, log))  # the witness holds 5 now
    assert (status, ctype, body) == (409, "text/x.tlog.size", b"5\n")
    fork = _tree(5, salt="fork")  # a second root for size 5
    status, _, body = witness.post(_req(5, fork, log))
    assert status == 409 and b"another root" in body
    bigger_fork = _tree(8, salt="fork")  # a larger forked tree, its proof from its own size-5 tree
    status, ctype, body = witness.post(_req(5, bigger_fork, log))
    assert status == 422 and ctype == "application/json" and "does not verify" in json.loads(body)["error"]
    status, _, body = witness.post(_req(5, _tree(4), log))  # a rollback: old size above the checkpoint
    assert status == 400
    assert witness.post(_req(4, _tree(4), log))[:3] == (409, "text/x.tlog.size", b"5\n")

    # unknown log, wrong key, malformed input, other paths: JSON errors, never a traceback
    other = Signer.from_seed("elsewhere.example/log", log_seed)
    assert witness.post(_req(0, t3, other, origin="elsewhere.example/log"))[0] == 404
    stranger = Signer.generate(ORIGIN)
    status, _, body = witness.post(_req(5, t5, stranger))
    assert status == 403 and "not signed" in json.loads(body)["error"]
    for bad in (b"", b"old 01\n\n" + _note(log, t5), b"old 5\nnot-base64\n\n" + _note(log, t5),
                b"old 5\n" + _note(log, t5), b"\xff\xfe", b"old 5\n\nnot a note"):
        status, ctype, body = witness.post(bad)
        assert status == 400 and ctype == "application/json" and json.loads(body)["error"], bad
    assert witness.post(b"x", path="/elsewhere")[0] == 404

    # restart: the state is kept (never rolled back), and a second process is refused
    argv = [sys.executable, "-m", "archive", "witness", "serve", "--witness-config", str(witness.config), "--port", "0"]
    second = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and "another witness process holds this state file" in second.stderr
    assert "Traceback" not in second.stderr
    assert witness.stop() == 0
    assert json.loads(witness.state.read_text())["logs"][ORIGIN]["size"] == 5
    witness.start()
    assert witness.post(_req(0, t5, log))[:3] == (409, "text/x.tlog.size", b"5\n")
    status, _, body = witness.post(_req(5, _tree(9), log))
    assert status == 200
    assert json.loads(witness.state.read_text())["logs"][ORIGIN] == {"size": 9, "root": _tree(9).root().hex()}


def test_a_non_ascii_digit_length_is_a_400_not_a_traceback(witness: WitnessProcess) -> None:
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(witness.url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        # byte 0xB2 is "²" in ISO-8859-1, the header charset: str.isdigit() says True, int() refuses it
        sock.sendall(b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: \xb2\r\n\r\n")
        answer = sock.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 400") or answer.startswith("HTTP/1.0 400"), answer[:200]
    assert "Traceback" not in answer
