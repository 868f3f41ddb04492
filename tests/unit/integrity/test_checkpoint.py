"""Keys, signed notes, checkpoints and cosignatures (SPEC.md section 7)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.integrity import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    MalformedError,
    NoteSignature,
    SignatureError,
    SignedNote,
    Signer,
    VerifierKey,
    cosign,
    open_checkpoint,
    require_cosignatures,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_cosignatures,
    verify_note,
)

# Known answers from golang.org/x/mod/sumdb/note (its documentation example).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# Known answer from c2sp.org/signed-note.
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

ORIGIN = "test.example/log/cam-1"
LOG = Signer.from_seed(ORIGIN, bytes(range(32)))
OTHER = Signer.from_seed(ORIGIN, bytes(range(1, 33)))  # same name, other key
WIT1 = Signer.from_seed("witness.example/w1", bytes([7]) * 32, ALG_COSIGNATURE_V1)
WIT2 = Signer.from_seed("witness.example/w2", bytes([8]) * 32, ALG_COSIGNATURE_V1)
CP = Checkpoint(ORIGIN, 12345, bytes(range(100, 132)))


def test_go_sumdb_note_known_answer() -> None:
    signer = Signer.parse(GO_SKEY)
    assert signer.verifier_key.encode() == GO_VKEY
    assert signer.encode() == GO_SKEY
    assert sign_note(GO_TEXT, [signer]).encode() == GO_NOTE
    assert verify_note(SignedNote.parse(GO_NOTE), [VerifierKey.parse(GO_VKEY)]) == (VerifierKey.parse(GO_VKEY),)


def test_c2sp_example_known_answer() -> None:
    key = VerifierKey.parse(C2SP_VKEY)
    assert key.key_id.hex() == "530d903a" and key.encode() == C2SP_VKEY
    verify_note(SignedNote.parse(C2SP_NOTE), [key])
    with pytest.raises(SignatureError):
        verify_note(SignedNote.parse(C2SP_NOTE.replace("example message", "example massage")), [key])


def test_checkpoint_text_format() -> None:
    assert CP.text() == f"{ORIGIN}\n12345\n{base64.b64encode(CP.root).decode()}\n"
    assert Checkpoint.parse(CP.text()) == CP
    ext = Checkpoint(ORIGIN, 0, bytes(32), ("ext one",))
    assert Checkpoint.parse(ext.text()) == ext
    root = base64.b64encode(bytes(32)).decode()
    for bad in (
        f"{ORIGIN}\n012\n{root}\n",
        f"{ORIGIN}\n-1\n{root}\n",
        f"{ORIGIN}\n1\n{root}",
        f"{ORIGIN}\n1\n",
        f"{ORIGIN}\n1\n{root[:-1]}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(bytes(31)).decode()}\n",
        f"{ORIGIN}\n1\n{root}\n\n",
        f"bad origin\n1\n{root}\n",
        f"{ORIGIN}\n1\t\n{root}\n",
    ):
        with pytest.raises(MalformedError):
            Checkpoint.parse(bad)


def test_sign_and_open_checkpoint() -> None:
    note = sign_checkpoint(CP, LOG)
    for form in (note, note.encode(), note.to_bytes()):
        assert open_checkpoint(form, [LOG.verifier_key]) == CP
    cp, by = verify_checkpoint(note, [OTHER.verifier_key, LOG.verifier_key])
    assert cp == CP and by == (LOG.verifier_key,)
    assert open_checkpoint(note, [LOG.verifier_key], origin=ORIGIN) == CP


def test_tampered_body_rejected() -> None:
    text = sign_checkpoint(CP, LOG).encode()
    for old, new in (("12345", "12346"), ("12345", "1234"), (ORIGIN, ORIGIN + "x")):
        with pytest.raises((SignatureError, MalformedError)):
            open_checkpoint(text.replace(old, new, 1), [LOG.verifier_key])
    other_root = Checkpoint(ORIGIN, CP.size, bytes(32)).text()
    with pytest.raises(SignatureError):
        open_checkpoint(text.replace(CP.text(), other_root), [LOG.verifier_key])


def test_tampered_signature_rejected() -> None:
    note = sign_checkpoint(CP, LOG)
    sig = note.signatures[0]
    for i in (0, 10, len(sig.signature) - 1):
        raw = bytearray(sig.signature)
        raw[i] ^= 0x40
        bad = SignedNote(note.text, (NoteSignature(sig.name, sig.key_id, bytes(raw)),))
        with pytest.raises(SignatureError):
            open_checkpoint(bad, [LOG.verifier_key])
    truncated = SignedNote(note.text, (NoteSignature(sig.name, sig.key_id, sig.signature[:-1]),))
    with pytest.raises(SignatureError):
        open_checkpoint(truncated, [LOG.verifier_key])


def test_wrong_key_and_wrong_name_rejected() -> None:
    note = sign_checkpoint(CP, LOG)
    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        open_checkpoint(note, [OTHER.verifier_key])  # same name, different key id
    renamed = Signer("test.example/log/cam-2", LOG.private_key)
    with pytest.raises(SignatureError, match="no trusted key for log"):
        open_checkpoint(note, [renamed.verifier_key])  # same key, other name
    with pytest.raises(SignatureError):
        open_checkpoint(note, [LOG.verifier_key], origin="test.example/log/cam-2")
    with pytest.raises(MalformedError):
        sign_checkpoint(CP, renamed)  # log key name must equal origin
    # a signature line with the trusted name and id but made by another key
    forged = NoteSignature(ORIGIN, LOG.key_id, OTHER.sign(note.text.encode()))
    with pytest.raises(SignatureError, match="does not verify"):
        open_checkpoint(SignedNote(note.text, (forged,)), [LOG.verifier_key])


def test_unknown_signatures_ignored_but_bad_known_rejects() -> None:
    note = sign_checkpoint(CP, LOG)
    unknown = NoteSignature("someone.example/x", b"\x01\x02\x03\x04", bytes(64))
    extended = SignedNote(note.text, (unknown, *note.signatures))
    assert open_checkpoint(extended.encode(), [LOG.verifier_key]) == CP
    bad_known = NoteSignature(ORIGIN, LOG.key_id, bytes(64))
    with pytest.raises(SignatureError):
        open_checkpoint(note.with_signature(bad_known), [LOG.verifier_key])


def test_malformed_notes_rejected() -> None:
    text = sign_checkpoint(CP, LOG).encode()
    sig_line = text.split("\n\n")[1]
    for bad in (
        text.replace("\n\n", "\n"),  # no blank line
        text[:-1],  # no final newline
        text.replace("— ", "- "),  # not an em dash
        text.replace("— ", "—  "),
        text + "trailing\n",
        text.replace("\n\n", "\n\r\n"),
        CP.text() + "\n",  # no signature
        text.replace(sig_line, sig_line.replace("=", "")),  # unpadded base64
        "\x00" + text,
    ):
        with pytest.raises(MalformedError):
            SignedNote.parse(bad)
    with pytest.raises(MalformedError):
        SignedNote.parse(b"\xff" + text.encode())
    many = CP.text() + "\n" + sig_line * 101
    with pytest.raises(MalformedError):
        SignedNote.parse(many)
    assert len(SignedNote.parse(CP.text() + "\n" + sig_line * 16).signatures) == 16


key_names = st.text(
    st.characters(whitelist_categories=("L", "N", "P", "S"), blacklist_characters="+"), min_size=1, max_size=30
)


@settings(max_examples=100, deadline=None)
@given(key_names, st.binary(min_size=32, max_size=32), st.sampled_from([0x01, 0x04]))
def test_verifier_and_signer_key_roundtrip(name: str, seed: bytes, alg: int) -> None:
    signer = Signer.from_seed(name, seed, alg)
    vkey = signer.verifier_key
    assert VerifierKey.parse(vkey.encode()) == vkey
    assert Signer.parse(signer.encode()).verifier_key == vkey
    assert vkey.encode().startswith(f"{name}+{vkey.key_id.hex()}+")


def test_verifier_key_rejections() -> None:
    good = LOG.verifier_key.encode()
    name, kid, material = good.split("+", 2)
    raw = base64.b64decode(material)
    for bad in (
        f"{name}+{kid}",
        f"{name}+{'0' * 8}+{material}",  # key id does not match
        f"{name}+{kid.upper()}+{material}",
        f"{name}+{kid}+{base64.b64encode(raw[:-1]).decode()}",
        f"{name}+{kid}+{base64.b64encode(bytes([9]) + raw[1:]).decode()}",  # unknown type
        f"{name} x+{kid}+{material}",
        f"+{kid}+{material}",
    ):
        with pytest.raises(MalformedError):
            VerifierKey.parse(bad)
    with pytest.raises(MalformedError):
        Signer.parse(good)


def test_cosignature_roundtrip() -> None:
    note = sign_checkpoint(CP, LOG)
    cs1 = cosign(note, WIT1, 1_750_000_000)
    cs2 = cosign(CP, WIT2, 1_750_000_001)
    full = SignedNote.parse(
        note.with_signature(cs1.to_note_signature()).with_signature(cs2.to_note_signature()).encode()
    )
    assert open_checkpoint(full, [LOG.verifier_key]) == CP  # log key still verifies
    got = verify_cosignatures(full, [WIT1.verifier_key, WIT2.verifier_key])
    assert {(c.name, c.timestamp) for c in got} == {
        ("witness.example/w1", 1_750_000_000),
        ("witness.example/w2", 1_750_000_001),
    }
    assert len(require_cosignatures(full, [WIT1.verifier_key, WIT2.verifier_key], 2)) == 2
    with pytest.raises(SignatureError, match="2 required"):
        require_cosignatures(note.with_signature(cs1.to_note_signature()), [WIT1.verifier_key, WIT2.verifier_key], 2)
    # a cosignature key is not a log key, and vice versa
    with pytest.raises(SignatureError):
        open_checkpoint(full, [Signer(ORIGIN, WIT1.private_key, ALG_COSIGNATURE_V1).verifier_key])
    assert verify_cosignatures(full, [LOG.verifier_key]) == ()


def test_cosignature_tampering_rejected() -> None:
    note = sign_checkpoint(CP, LOG)
    cs = cosign(note, WIT1, 1_750_000_000)
    keys = [WIT1.verifier_key]
    later = type(cs)(cs.name, cs.key_id, cs.timestamp + 1, cs.signature)  # timestamp changed
    with pytest.raises(SignatureError):
        verify_cosignatures(note.with_signature(later.to_note_signature()), keys)
    other_body = sign_checkpoint(Checkpoint(ORIGIN, CP.size + 1, CP.root), LOG)
    with pytest.raises(SignatureError):
        verify_cosignatures(other_body.with_signature(cs.to_note_signature()), keys)
    short = NoteSignature(cs.name, cs.key_id, cs.signature)  # timestamp missing
    with pytest.raises(SignatureError):
        verify_cosignatures(note.with_signature(short), keys)
    impostor = Signer("witness.example/w1", WIT2.private_key, ALG_COSIGNATURE_V1)
    assert verify_cosignatures(note.with_signature(cosign(note, impostor, 1).to_note_signature()), keys) == ()
    with pytest.raises(MalformedError):
        cosign(note, LOG, 1)  # a note key (0x01) cannot cosign
    with pytest.raises(MalformedError):
        cosign(note, WIT1, -1)


def test_unknown_signer_with_unusual_but_legal_name_is_ignored() -> None:
    note = sign_checkpoint(CP, LOG)
    odd = NoteSignature("w\u200bitness.example/é", b"\x00\x00\x00\x01", bytes(64))  # zero-width space: legal
    assert open_checkpoint(note.with_signature(odd).encode(), [LOG.verifier_key]) == CP
