"""Witness cosignatures: standalone cosigning with a consistency check, storing and serving them."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ConflictError, NotFoundError
from archive.integrity import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    ProofError,
    SignatureError,
    SignedNote,
    Signer,
    require_cosignatures,
    sign_note,
)
from archive.ledger.witness import (
    ConsistencyProof,
    add_cosignature,
    consistency_proof_for,
    witness_cosign,
    witness_keygen,
)
from tests.integration.ledger_support import Env, make_env, record

CAM = "cam-w"


@pytest.fixture
def env(catalog_url: str, s3_store, tmp_path: Path):
    e = make_env(catalog_url, s3_store, tmp_path)
    yield e
    e.engine.dispose()


def test_witness_cosigns_consistent_checkpoints_only(env: Env) -> None:
    witness = witness_keygen("police.example.org/witness")
    assert witness.alg == ALG_COSIGNATURE_V1
    log_key = env.ledger.keys.active().public  # the archive's published key (record name)
    record(env, CAM, 3)
    first = env.ledger.checkpoint(CAM)
    assert first is not None
    line1 = witness_cosign(witness, first.note, log_key, timestamp=1_741_944_420)
    add_cosignature(env.ledger, CAM, first.size, line1, witness.verifier_key)
    record(env, CAM, 2, first=3)
    second = env.ledger.checkpoint(CAM)
    assert second is not None
    proof = ConsistencyProof.from_json(consistency_proof_for(env.ledger, CAM, first.size).to_json())
    assert (proof.old_size, proof.new_size) == (3, 5)
    line2 = witness_cosign(witness, second.note, log_key, previous=first.note, proof=proof, timestamp=1_741_944_480)
    add_cosignature(env.ledger, CAM, second.size, line2, witness.verifier_key)

    served = env.ledger.signer.latest(CAM)
    assert served is not None and served.cosignatures == 1
    cosigs = require_cosignatures(SignedNote.parse(served.note), [witness.verifier_key], 1)
    assert cosigs[0].timestamp == 1_741_944_480
    with pytest.raises(ConflictError):
        add_cosignature(env.ledger, CAM, second.size, line2)
    with pytest.raises(NotFoundError):
        add_cosignature(env.ledger, CAM, 99, line2)
    wrong = witness_cosign(witness, second.note, log_key, timestamp=1)  # a cosignature of size 5 ...
    with pytest.raises(SignatureError):  # ... does not verify on the checkpoint of size 3
        add_cosignature(env.ledger, CAM, first.size, wrong, witness.verifier_key)

    # no proof, a wrong proof, a smaller checkpoint, a forked checkpoint: refused
    with pytest.raises(ProofError, match="consistency proof is needed"):
        witness_cosign(witness, second.note, log_key, previous=first.note)
    bad = ConsistencyProof(3, 5, tuple(bytes(32) for _ in proof.hashes))
    with pytest.raises(ProofError):
        witness_cosign(witness, second.note, log_key, previous=first.note, proof=bad)
    with pytest.raises(ProofError, match="smaller"):
        witness_cosign(witness, first.note, log_key, previous=second.note)
    origin = env.ledger.log_id(CAM)
    signer = env.ledger.keys.log_signer(env.ledger.keys.active().key_id, origin)
    fork = sign_note(Checkpoint(origin, 5, bytes(32)).text(), [signer]).encode()
    with pytest.raises(ProofError):
        witness_cosign(witness, fork, log_key, previous=first.note, proof=proof)
    # a checkpoint not signed by the log key
    stranger = Signer.generate(origin)
    forged = sign_note(Checkpoint(origin, 5, bytes(32)).text(), [stranger]).encode()
    with pytest.raises(SignatureError):
        witness_cosign(witness, forged, log_key)
