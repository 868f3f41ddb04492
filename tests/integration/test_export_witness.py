"""Witness cosignatures in packages: the archive keeps the cosignatures its configured witness
keys verify (and bundles those keys), leaves out the others; the package's verifier checks every
cosignature present, fails an altered one, and ``--witness KEY`` requires a cosignature by a
trusted witness (failing when there is none). One package per module, real segments and ledger."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.cli import main
from archive.export.verifier.checks import verify_package
from archive.export.verifier.outcome import Outcome
from archive.integrity import Cosignature, NoteSignature, SignedNote, Signer
from archive.ledger.witness import add_cosignature, witness_cosign, witness_keygen
from archive.storage.s3 import S3Store
from tests.integration import export_support as xs

WHEN = 1_741_944_600  # 2025-03-14T09:30:00Z


@dataclass
class Built:
    env: xs.XEnv
    zip: Path
    folder: Path
    witness: Signer
    stranger: Signer

    def copy(self, dest: Path) -> Path:
        out = dest / self.folder.name
        shutil.copytree(self.folder, out)
        return out


@pytest.fixture(scope="module")
def built(s3_store: S3Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("export-witness")
    witness = witness_keygen("police.example.org/witness")
    stranger = witness_keygen("stranger.example.org/witness")  # cosigns, but the archive does not know its key
    env = xs.make_env(f"sqlite:///{tmp / 'catalog.sqlite3'}", s3_store, tmp, working_copy=False,
                      witness_keys=(witness.verifier_key,))  # fmt: skip
    xs.record_cameras(env, xs.make_clips(tmp / "clips"))
    log_key = env.ledger.keys.active().public
    for cam in ("cam-a", "mall-1"):
        cp = env.ledger.checkpoint(cam)
        assert cp is not None
        add_cosignature(env.ledger, cam, cp.size, witness_cosign(witness, cp.note, log_key, timestamp=WHEN),
                        witness.verifier_key)  # fmt: skip
        add_cosignature(env.ledger, cam, cp.size, witness_cosign(stranger, cp.note, log_key, timestamp=WHEN))
    path = xs.approve_and_build(env, xs.request(env))
    zipfile.ZipFile(path).extractall(tmp / "unpacked")
    (folder,) = list((tmp / "unpacked").iterdir())
    yield Built(env, path, folder, witness, stranger)
    env.engine.dispose()  # type: ignore[attr-defined]


def _label(s: Signer) -> str:
    return f"{s.name}+{s.key_id.hex()}"


def _details(o: Outcome, check: str) -> str:
    return "\n".join(d for c in o.checks if c.name == check for d in c.details)


def test_honest_package_with_a_cosignature_verifies(built: Built) -> None:
    o = verify_package(built.zip, trust=built.env.trust)
    assert o.valid, o.failures
    for cam in ("cam-a", "mall-1"):
        assert f"witness cosignature by {_label(built.witness)}" in _details(o, f"camera {cam}")
        assert "(size 9) at 2025-03-14T09:30:00.000000Z" in _details(o, f"camera {cam}")
    # Only the known witness's cosignature went into the package; the other is named as left out.
    note = SignedNote.parse((built.folder / "cameras" / "cam-a" / "checkpoint.note").read_bytes())
    assert {s.name for s in note.signatures} == {built.witness.name, built.env.ledger.log_id("cam-a")}
    manifest = json.loads((built.folder / "manifest.json").read_text())
    left = manifest["cameras"][0]["witness_cosignatures_left_out"]
    assert len(left) == 1 and _label(built.stranger) in left[0] and "not a known witness key" in left[0]
    assert built.witness.verifier_key.encode() in (built.folder / "keys" / "keys.txt").read_text()
    assert "Witness cosignatures" in (built.folder / "report.html").read_text()
    # Requiring the witness (--witness): it cosigned every camera.
    o = verify_package(built.folder, trust=built.env.trust, witness=[built.witness.verifier_key.encode()])
    assert o.valid, o.failures
    assert f"trusted witness {_label(built.witness)} (--witness) cosigned this checkpoint" in _details(
        o, "camera mall-1")


def test_witness_that_did_not_cosign_fails(built: Built) -> None:
    o = verify_package(built.zip, witness=[built.stranger.verifier_key.encode()])
    assert not o.valid
    assert sorted(o.failures) == sorted(
        f"camera {cam}: no valid cosignature by the trusted witness {_label(built.stranger)} (--witness) on this "
        "checkpoint" for cam in ("cam-a", "mall-1"))  # fmt: skip
    out = io.StringIO()
    assert main(["verify", "package", str(built.zip), "--witness", built.stranger.verifier_key.encode(), "--quiet"],
                out=out) == 1  # fmt: skip
    assert "no valid cosignature by the trusted witness" in out.getvalue() and "VERDICT: INVALID" in out.getvalue()
    # A log key is not a witness key: bad usage (exit 2).
    assert main(["verify", "package", str(built.zip), "--witness", built.env.ledger.keys.active().public.encode(),
                 "--quiet"], out=io.StringIO()) == 2  # fmt: skip


def _rewrite_cosignature(folder: Path, cam: str, name: str, change: bytes) -> None:
    path = folder / "cameras" / cam / "checkpoint.note"
    note = SignedNote.parse(path.read_bytes())
    sigs = []
    for s in note.signatures:
        if s.name == name:
            c = Cosignature.from_note_signature(s)
            s = Cosignature(c.name, c.key_id, c.timestamp, bytes(a ^ b for a, b in zip(c.signature, change.ljust(64,
                            b"\0"), strict=True))).to_note_signature()  # fmt: skip
        sigs.append(s)
    path.write_bytes(SignedNote(note.text, tuple(sigs)).to_bytes())


def test_tampered_cosignature_fails(built: Built, tmp_path: Path) -> None:
    folder = built.copy(tmp_path)
    _rewrite_cosignature(folder, "mall-1", built.witness.name, b"\x01")
    xs.reseal(folder, xs.export_signer(built.env))  # an insider re-signs the manifest: only the cosignature is off
    o = verify_package(folder, trust=built.env.trust)
    assert not o.valid
    (failure,) = o.failures
    assert failure.startswith(f"camera mall-1: witness cosignature by {_label(built.witness)} does NOT verify over "
                              "this checkpoint") and "altered" in failure  # fmt: skip


def test_cosignature_with_no_key_fails(built: Built, tmp_path: Path) -> None:
    """A cosignature line nobody can check (added by an insider with the signing key) is not accepted."""
    folder = built.copy(tmp_path)
    path = folder / "cameras" / "cam-a" / "checkpoint.note"
    note = SignedNote.parse(path.read_bytes())
    extra = NoteSignature(built.stranger.name, built.stranger.key_id, bytes(72))
    path.write_bytes(note.with_signature(extra).to_bytes())
    xs.reseal(folder, xs.export_signer(built.env))
    o = verify_package(folder, trust=built.env.trust)
    (failure,) = o.failures
    assert f"witness cosignature by {_label(built.stranger)}: no key for this witness" in failure


def test_witness_alone_is_not_valid(built: Built) -> None:
    """A witness vouches for the logs it cosigned, not for the manifest text (case, custody): with
    only --witness keys (every one of which cosigned) the verdict is UNVERIFIED, exit 3 (it was
    VALID, exit 0); VALID needs the export key pinned with --trust."""
    key = built.witness.verifier_key.encode()
    o = verify_package(built.zip, witness=[key])
    assert o.consistent and (o.status, o.failed_step) == ("UNVERIFIED", 8), o.verdict()
    assert "witness" in o.verdict() and "--trust" in o.verdict()
    out = io.StringIO()
    assert main(["verify", "package", str(built.zip), "--witness", key, "--quiet"], out=out) == 3, out.getvalue()
    assert "VERDICT: UNVERIFIED at step 8 (trust)" in out.getvalue()
    assert verify_package(built.zip, trust=built.env.trust, witness=[key]).valid
