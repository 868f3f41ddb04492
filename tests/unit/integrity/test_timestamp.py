"""RFC 3161 tokens (archive/integrity/timestamp.py) against a real ``openssl ts -reply`` TSA: an
honest token checks, and every change to what it covers, its signature, its certificate or the
trust given is refused; the same bytes pass ``openssl ts -verify``."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from archive.integrity import MalformedError, SignatureError
from archive.integrity.der import read_one
from archive.integrity.timestamp import (
    check_timestamp,
    load_certificates,
    read_timestamp_response,
    timestamp_request,
)
from tests.fixtures.tsa import OpensslTsa

DATA = b"archive.mojokerto/camera/dishub-001\n42\nq6Xh0mJ1cb1tCzjiMbuJpEAwzQNqTYkQ3Pv4d3CPt3g=\n"
NONCE = 0x1234_5678_9ABC


@pytest.fixture(scope="module", params=[("rsa", "sha256"), ("ec", "sha1")], ids=["rsa-esscertidv2", "ec-esscertid"])
def tsa(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> OpensslTsa:
    key, ess = request.param
    return OpensslTsa(tmp_path_factory.mktemp("tsa"), key=key, ess=ess)


@pytest.fixture(scope="module")
def answer(tsa: OpensslTsa) -> bytes:
    return tsa.reply(timestamp_request(hashlib.sha256(DATA).digest(), NONCE))


def test_an_honest_token_checks_with_and_without_trust_and_openssl_agrees(
    tsa: OpensslTsa, answer: bytes, tmp_path: Path
) -> None:
    token = read_timestamp_response(answer)
    assert token.nonce == NONCE and token.imprint == hashlib.sha256(DATA).digest()
    assert "CN=Test TSA" in token.signer_subject and token.gen_time.tzinfo is not None
    check_timestamp(token, DATA, [tsa.ca], nonce=NONCE)
    check_timestamp(token, DATA, [tsa.cert])  # trusting the TSA's own certificate
    check_timestamp(token, DATA, None)
    (tmp_path / "r.tsr").write_bytes(answer)
    (tmp_path / "d").write_bytes(DATA)
    ok = subprocess.run(["openssl", "ts", "-verify", "-in", str(tmp_path / "r.tsr"), "-data", str(tmp_path / "d"),
                         "-CAfile", str(tsa.ca_file)], capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stderr


def test_other_bytes_are_refused(answer: bytes, tsa: OpensslTsa) -> None:
    with pytest.raises(SignatureError, match="messageImprint"):
        check_timestamp(read_timestamp_response(answer), DATA.replace(b"42", b"41"), [tsa.ca])


def test_another_nonce_is_refused(answer: bytes) -> None:
    with pytest.raises(MalformedError, match="nonce"):
        check_timestamp(read_timestamp_response(answer), DATA, None, nonce=NONCE + 1)


def _flip_signature(answer: bytes) -> bytes:
    token = read_timestamp_response(answer)
    sig = token._signature
    at = answer.rindex(sig)
    return answer[:at] + bytes([sig[0] ^ 1]) + answer[at + 1 :]


def test_a_changed_signature_is_refused(answer: bytes) -> None:
    with pytest.raises(SignatureError, match="does not verify"):
        check_timestamp(read_timestamp_response(_flip_signature(answer)), DATA, None)


def test_a_changed_gen_time_is_refused(answer: bytes) -> None:
    token = read_timestamp_response(answer)
    stamp = token.gen_time.strftime("%Y%m%d%H%M%S").encode()
    forged = answer.replace(stamp, str(int(stamp) - 10**10).encode())  # one year earlier
    assert forged != answer
    with pytest.raises(SignatureError, match="message-digest"):
        check_timestamp(read_timestamp_response(forged), DATA, None)


def test_a_tsa_nobody_trusted_is_refused(answer: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = OpensslTsa(tmp_path_factory.mktemp("other"))
    with pytest.raises(SignatureError, match="not one you trusted"):
        check_timestamp(read_timestamp_response(answer), DATA, [other.ca, other.cert])


def test_a_refusal_and_malformed_der_are_refused(answer: bytes) -> None:
    refusal = bytes.fromhex("3005300302010 2".replace(" ", ""))  # PKIStatus rejection (2), no token
    with pytest.raises(MalformedError, match="refused"):
        read_timestamp_response(refusal)
    with pytest.raises(MalformedError, match="after the DER value"):
        read_timestamp_response(answer + b"\x00")
    with pytest.raises(MalformedError, match="shortest form"):
        read_one(b"\x04\x81\x01x", "x")
    with pytest.raises(MalformedError):
        read_timestamp_response(answer[:-5])


def test_a_request_is_der_with_the_digest_and_nonce() -> None:
    req = read_one(timestamp_request(hashlib.sha256(DATA).digest(), NONCE), "req").children()
    assert req[0].integer() == 1 and req[2].integer() == NONCE and req[3].boolean() is True
    assert req[1].children()[1].content == hashlib.sha256(DATA).digest()
    with pytest.raises(MalformedError):
        timestamp_request(b"short", 1)


def test_a_pem_file_gives_its_certificates(tsa: OpensslTsa) -> None:
    assert load_certificates(tsa.ca_file.read_bytes()) == [tsa.ca]
    with pytest.raises(MalformedError):
        load_certificates(b"not pem")
