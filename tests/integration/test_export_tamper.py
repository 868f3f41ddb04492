"""A package that was changed does not verify, and the verifier says what changed: a byte
flipped in a segment, a segment removed, two reordered, the manifest replaced, everything
re-signed with another key (caught with --trust), the custody log edited, the range trimmed to
hide a gap (by an insider holding the signing key). One honest package is built per module
(real H.264 segments through the real ledger) and each test tampers with a copy."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archive.export.verifier.checks import verify_package
from archive.export.verifier.custody import ZERO
from archive.export.verifier.formats import canonical, fingerprint, keys_text
from archive.export.verifier.outcome import Outcome
from archive.integrity import SignedNote, Signer, range_proof, sign_note
from archive.ledger import repo as lrepo
from archive.storage.s3 import S3Store
from tests.integration import export_support as xs


@dataclass
class Built:
    env: xs.XEnv
    folder: Path
    zip: Path
    export_id: str

    def copy(self, dest: Path) -> Path:
        out = dest / self.folder.name
        shutil.copytree(self.folder, out)
        return out


@pytest.fixture(scope="module")
def built(s3_store: S3Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("export-tamper")
    env = xs.make_env(f"sqlite:///{tmp / 'catalog.sqlite3'}", s3_store, tmp)
    xs.record_cameras(env, xs.make_clips(tmp / "clips"))
    eid = xs.request(env)
    path = xs.approve_and_build(env, eid)
    zipfile.ZipFile(path).extractall(tmp / "unpacked")
    (folder,) = list((tmp / "unpacked").iterdir())
    yield Built(env, folder, path, eid)
    env.engine.dispose()  # type: ignore[attr-defined]


def _fails(o: Outcome) -> str:
    assert not o.valid, "the tampered package verified"
    return "\n".join(o.failures)


def _segments(folder: Path, cam: str = "cam-a") -> list[Path]:
    return sorted((folder / "cameras" / cam / "segments").iterdir())


_export_signer = xs.export_signer
_reseal = xs.reseal


def test_honest_package_verifies_as_zip_and_folder(built: Built) -> None:
    for target in (built.zip, built.folder):
        o = verify_package(target, trust=built.env.trust)
        assert o.valid, o.failures
    o = verify_package(built.zip)  # no trust root from outside the package: consistent, never VALID
    assert o.consistent and not o.valid and o.verdict().startswith("UNVERIFIED") and "keys bundled" in o.trust


def test_byte_flipped_in_a_segment(built: Built, tmp_path: Path) -> None:
    folder = built.copy(tmp_path)
    seg = _segments(folder)[1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x01
    seg.write_bytes(bytes(data))
    msg = _fails(verify_package(folder, trust=built.env.trust))
    assert f"{seg.relative_to(folder).as_posix()}: SHA-256" in msg and "differs from the manifest" in msg
    assert "camera cam-a: seq 1: segment file" in msg and "its log entry says" in msg


def test_segment_removed(built: Built, tmp_path: Path) -> None:
    folder = built.copy(tmp_path)
    seg = _segments(folder)[2]
    seg.unlink()
    msg = _fails(verify_package(folder, trust=built.env.trust))
    rel = seg.relative_to(folder).as_posix()
    assert f"{rel} is listed in the manifest but missing from the package" in msg
    assert f"camera cam-a: seq 2: segment file {rel} is missing from the package" in msg


def test_two_segments_reordered(built: Built, tmp_path: Path) -> None:
    folder = built.copy(tmp_path)
    a, b = _segments(folder)[0], _segments(folder)[1]
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    msg = _fails(verify_package(folder, trust=built.env.trust))
    assert "camera cam-a: seq 0: segment file" in msg and "camera cam-a: seq 1: segment file" in msg
    # Two log entries swapped instead: the hash chain and the range proof break.
    folder2 = built.copy(tmp_path / "entries")
    ent = folder2 / "cameras" / "cam-a" / "entries.jsonl"
    lines = ent.read_bytes().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    ent.write_bytes(b"".join(lines))
    msg = _fails(verify_package(folder2, trust=built.env.trust))
    assert "camera cam-a: log " in msg and "seq 1: entry says seq 2, expected 1" in msg


def test_manifest_replaced(built: Built, tmp_path: Path) -> None:
    folder = built.copy(tmp_path)
    m = json.loads((folder / "manifest.json").read_text())
    m["case"]["legal_basis"] = "none"
    (folder / "manifest.json").write_text(json.dumps(m, sort_keys=True, indent=2))
    msg = _fails(verify_package(folder, trust=built.env.trust))
    assert "manifest signature: manifest.json was replaced or edited: its SHA-256 is" in msg


def test_everything_resigned_with_another_key(built: Built, tmp_path: Path) -> None:
    """A forger re-signs checkpoints and manifest with their own key and bundles it: the package
    is self-consistent, so without --trust it is UNVERIFIED (never VALID: it was VALID, exit 0,
    before); with the archive's fingerprint or verifier key it fails."""
    folder = built.copy(tmp_path)
    forged = Signer.generate("forger")
    prefix = built.env.ledger.settings.origin_prefix
    keys = [Signer(f"{prefix}/export", forged.private_key).verifier_key]
    for cam in ("cam-a", "mall-1"):
        p = folder / "cameras" / cam / "checkpoint.note"
        origin = f"{prefix}/camera/{cam}"
        p.write_bytes(sign_note(SignedNote.parse(p.read_bytes()).text, [Signer(origin, forged.private_key)]).to_bytes())
        keys.append(Signer(origin, forged.private_key).verifier_key)
    (folder / "keys" / "keys.txt").write_text(keys_text(keys))

    def edit(m: dict[str, Any]) -> None:
        m["case"]["reason"] = "forged"

    _reseal(folder, Signer(f"{prefix}/export", forged.private_key), edit)
    alone = verify_package(folder)
    assert alone.consistent and not alone.valid and "keys bundled in the package only" in alone.trust
    assert alone.verdict().startswith("UNVERIFIED")
    msg = _fails(verify_package(folder, trust=built.env.trust))
    assert "no key in the package has the trusted export key fingerprint" in msg
    assert "manifest.json.sig is not signed by a trusted key" in msg
    assert "camera cam-a: " in msg and "no signature by a trusted key" in msg
    real = built.env.ledger.export_keys.active().log_key(f"{prefix}/export").encode()
    msg = _fails(verify_package(folder, trust=[real]))
    assert "manifest.json.sig is not signed by a trusted key" in msg and "camera mall-1: " in msg


def test_custody_log_edited(built: Built, tmp_path: Path) -> None:
    folder = built.copy(tmp_path)
    path = folder / "custody.jsonl"
    lines = path.read_bytes().splitlines()
    ev = json.loads(lines[2])
    ev["name"], ev["actor"] = "Someone Else", "other1"
    lines[2] = canonical(ev)
    path.write_bytes(b"".join(x + b"\n" for x in lines))
    msg = _fails(verify_package(folder, trust=built.env.trust))
    assert "custody.jsonl: SHA-256" in msg
    assert "custody log: custody event 3 (build_started): prev is" in msg and "was edited" in msg
    # Re-chained by the editor: the chain holds, but its head is not the one the manifest signed.
    prev = ZERO
    for i, line in enumerate(lines):
        d = json.loads(line)
        d["prev"] = prev
        lines[i] = canonical(d)
        prev = hashlib.sha256(lines[i]).hexdigest()
    path.write_bytes(b"".join(x + b"\n" for x in lines))
    msg = _fails(verify_package(folder, trust=built.env.trust))
    assert "the signed manifest says 5 events with head" in msg


def test_range_trimmed_to_hide_a_gap(built: Built, tmp_path: Path) -> None:
    """An insider with the catalog and the signing key drops cam-a's gap (seq 4) and everything
    after it, with a valid range proof for the shorter run and a re-signed manifest: the
    entries no longer cover the requested range, and the verifier says where."""
    env, folder = built.env, built.copy(tmp_path)
    cam = folder / "cameras" / "cam-a"
    origin = env.ledger.log_id("cam-a")
    lines = (cam / "entries.jsonl").read_bytes().splitlines(keepends=True)
    (cam / "entries.jsonl").write_bytes(b"".join(lines[:4]))
    cp = json.loads((cam / "range-proof.json").read_text())
    with env.engine.connect() as conn:  # type: ignore[attr-defined]
        proof = range_proof(0, 4, cp["tree_size"], lrepo.hash_source(conn, origin))
    (cam / "range-proof.json").write_bytes(proof.to_json() + b"\n")
    for seg in _segments(folder)[4:]:
        seg.unlink()

    def trim(m: dict[str, Any]) -> None:
        c = next(c for c in m["cameras"] if c["id"] == "cam-a")
        c["entries"]["end"] = 4
        c["segments"] = [s for s in c["segments"] if s["seq"] < 4]

    _reseal(folder, _export_signer(env), trim)
    o = verify_package(folder, trust=env.trust)
    msg = _fails(o)
    assert [c.name for c in o.checks if not c.ok] == ["camera cam-a"]
    assert "not covered after seq 3 (tolerance 500000 us)" in msg and "2025-03-14T09:00:08.000000Z" in msg
    # Trimming the requested range in the manifest instead: the custody log's request disagrees.
    folder2 = built.copy(tmp_path / "range")

    def shorten(m: dict[str, Any]) -> None:
        m["range"]["end"] = "2025-03-14T09:00:07.000000Z"

    _reseal(folder2, _export_signer(env), shorten)
    o = verify_package(folder2, trust=env.trust)
    msg = _fails(o)
    assert "custody log: the manifest exports" in msg and "range or cameras changed after the request" in msg


def test_file_added_after_signing(built: Built, tmp_path: Path) -> None:
    folder = built.copy(tmp_path)
    (folder / "cameras" / "cam-a" / "segments" / "999_extra.ts").write_bytes(b"x")
    msg = _fails(verify_package(folder, trust=built.env.trust))
    assert "999_extra.ts is in the package but not in the signed manifest" in msg


def test_camera_sections_relabelled_by_an_insider(built: Built, tmp_path: Path) -> None:
    """An insider holding the signing key swaps the labels of two camera sections (every log is
    genuine, the set of cameras matches the request): before, each camera verified against the
    other's log and the package was VALID; the log's origin and the entries name the camera."""
    folder = built.copy(tmp_path)

    def swap(m: dict[str, Any]) -> None:
        a, b = (next(c for c in m["cameras"] if c["id"] == cam) for cam in ("cam-a", "mall-1"))
        a["id"], b["id"] = "mall-1", "cam-a"

    _reseal(folder, _export_signer(built.env), swap)
    o = verify_package(folder, trust=built.env.trust)
    msg = _fails(o)
    prefix = built.env.ledger.settings.origin_prefix
    assert f"camera mall-1: its log is {prefix}/camera/cam-a, which is not this camera's log" in msg, msg
    assert "a segment entry of camera 'cam-a' in the log exported as camera mall-1" in msg, msg


def test_media_file_vouched_for_by_no_entry(built: Built, tmp_path: Path) -> None:
    """A file slipped into an outage and listed as a segment (manifest re-signed by an insider),
    with no log entry behind it: before, it passed as a listed file; now every segment file needs
    exactly one entry, and one file cannot stand for two entries."""
    folder = built.copy(tmp_path)
    seg = _segments(folder)[0]
    extra = seg.parent / "0004_filler.ts"
    extra.write_bytes(seg.read_bytes())
    _reseal(folder, _export_signer(built.env))
    msg = _fails(verify_package(folder, trust=built.env.trust))
    rel = extra.relative_to(folder).as_posix()
    assert f"media files: {rel} is listed as a segment file but no camera's segment entry vouches for it" in msg

    folder2 = built.copy(tmp_path / "twice")
    first = _segments(folder2)[0].relative_to(folder2).as_posix()

    def twice(m: dict[str, Any]) -> None:
        cam = next(c for c in m["cameras"] if c["id"] == "cam-a")
        cam["segments"][1]["path"] = first

    _reseal(folder2, _export_signer(built.env), twice)
    msg = _fails(verify_package(folder2, trust=built.env.trust))
    assert f"{first} is named by camera cam-a seq 0 and by camera cam-a seq 1" in msg, msg


def test_real_package_follows_the_manifest_schema_and_carries_the_spec(built: Built) -> None:
    """A package the archive built validates against archive/integrity/export-manifest.schema.json
    (EXPORT-SPEC.md 4), and carries EXPORT-SPEC.md and the schema byte for byte."""
    jsonschema = pytest.importorskip("jsonschema")
    here = Path(__file__).resolve().parents[2] / "archive" / "integrity"
    schema = json.loads((here / "export-manifest.schema.json").read_text(encoding="utf-8"))
    manifest = json.loads((built.folder / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(manifest)
    for name in ("EXPORT-SPEC.md", "export-manifest.schema.json", "SPEC.md"):
        assert (built.folder / "integrity" / name).read_bytes() == (here / name).read_bytes()
    kinds = {f["kind"] for f in manifest["files"]}
    assert {"segment", "entries", "proof", "checkpoint", "keys", "custody", "spec", "verifier"} <= kinds


def test_report_and_readme_read_as_sentences_with_wib_and_utc(built: Built) -> None:
    """report.html, report.pdf's text and README.txt (issue 15 item 7): custody as sentences, not
    Python dict reprs; times in WIB and UTC, not microsecond epochs; the fingerprint with the
    archive name and how to obtain the trust key."""
    import re

    html = (built.folder / "report.html").read_text(encoding="utf-8")
    readme = (built.folder / "README.txt").read_text(encoding="utf-8")
    fp = built.env.fingerprint
    prefix = built.env.ledger.settings.origin_prefix
    assert "{&#x27;" not in html and "{'" not in html, "a dict repr in the report"
    assert re.search(r"requested the export of cameras cam-a, mall-1 from \w+day \d+ March 2025, \d\d:\d\d:\d\d WIB "
                     r"\(\d\d:\d\d:\d\d UTC\)", html), html  # fmt: skip
    assert "built the package" in html and "sealing" in html
    for text in (html, " ".join(readme.split())):
        assert f"archive named {prefix}: its manifest with the export key of fingerprint {fp}" in text
        assert f"--trust export={fp} --trust {built.env.trust[1]}" in text
        assert "archive export key" in text and "not from this package" in text
        assert not re.search(r"\b1[0-9]{15}\b", text), "a microsecond epoch"
    assert "integrity/EXPORT-SPEC.md" in readme


def _purpose_swap(built: Built, tmp_path: Path, *, manifest_by_camera_key: bool) -> Path:
    """A package re-signed by the holder of ONE of the archive's two keys, who lists that key under
    the other purpose's name in keys/keys.txt (besides the genuine lines): the camera key under
    ``<archive>/export`` (it then signs an edited manifest), or the export key under a camera's
    log origin (it then signs that camera's checkpoint). Both keys are the archive's real ones
    (its key rings)."""
    folder = built.copy(tmp_path)
    env, prefix = built.env, built.env.ledger.settings.origin_prefix
    cam_ring, exp_ring = env.ledger.keys, env.ledger.export_keys
    camera_key = lambda name: cam_ring.log_signer(cam_ring.active().key_id, name)  # noqa: E731
    export_key = lambda name: exp_ring.log_signer(exp_ring.active().key_id, name)  # noqa: E731
    kpath = folder / "keys" / "keys.txt"
    if manifest_by_camera_key:
        signer = camera_key(f"{prefix}/export")
        kpath.write_text(kpath.read_text() + signer.verifier_key.encode() + "\n")

        def edit(m: dict[str, Any]) -> None:
            m["case"]["reason"] = "written by the holder of the camera key"
            m["signing_key"] = {"name": signer.name, "verifier_key": signer.verifier_key.encode(),
                                "fingerprint": fingerprint(signer.public_key)}  # fmt: skip

        _reseal(folder, signer, edit)
    else:
        origin = f"{prefix}/camera/cam-a"
        p = folder / "cameras" / "cam-a" / "checkpoint.note"
        p.write_bytes(sign_note(SignedNote.parse(p.read_bytes()).text, [export_key(origin)]).to_bytes())
        kpath.write_text(kpath.read_text() + export_key(origin).verifier_key.encode() + "\n")
        _reseal(folder, _export_signer(env))
    return folder


def test_camera_key_listed_under_the_export_name_does_not_verify_the_manifest(built: Built, tmp_path: Path) -> None:
    """A trusted fingerprint is bound to one purpose: the camera key (trusted for the camera logs)
    signing the manifest under the export key's name is refused at step 2 (it was VALID)."""
    folder = _purpose_swap(built, tmp_path, manifest_by_camera_key=True)
    o = verify_package(folder, trust=built.env.trust)
    assert (o.status, o.failed_step) == ("INVALID", 2), o.verdict()
    assert "manifest.json.sig is not signed by a trusted key" in _fails(o)


def test_export_key_listed_under_a_log_origin_does_not_verify_the_log(built: Built, tmp_path: Path) -> None:
    """... and vice versa: the export key signing a camera checkpoint under the log origin is
    refused at step 6 for that camera (it was VALID)."""
    folder = _purpose_swap(built, tmp_path, manifest_by_camera_key=False)
    o = verify_package(folder, trust=built.env.trust)
    assert (o.status, o.failed_step) == ("INVALID", 6), o.verdict()
    assert [c.name for c in o.checks if not c.ok] == ["camera cam-a"], o.failures
    assert "no signature by a trusted key" in _fails(o)


def test_a_still_frame_per_camera_labelled_derived_and_hashed(built: Built) -> None:
    """Each camera's first keyframe as a JPEG made by ffmpeg (EXPORT-SPEC.md 4): labelled derived
    (not evidence) in its name, the manifest and the report, hashed in the file list like every
    file, and shown in the report."""
    m = json.loads((built.folder / "manifest.json").read_text())
    listed = {f["path"]: f for f in m["files"]}
    html = (built.folder / "report.html").read_text()
    for cam in m["cameras"]:
        still = cam["still"]
        assert still is not None and still["derived"] is True and "not evidence" in still["note"], still
        assert still["path"] == f"cameras/{cam['id']}/still-DERIVED.jpg"
        data = (built.folder / still["path"]).read_bytes()
        assert data[:3] == b"\xff\xd8\xff" and len(data) > 500  # a JPEG
        f = listed[still["path"]]
        assert (f["kind"], f["sha256"], f["size"]) == ("derived", hashlib.sha256(data).hexdigest(), len(data))
        assert (still["sha256"], still["size"]) == (f["sha256"], f["size"])
        assert f'src="{still["path"]}"' in html
        first = min(cam["segments"], key=lambda s: s["seq"])
        assert f"seq {first['seq']}" in still["note"]
    assert "DERIVED still frame" in html
