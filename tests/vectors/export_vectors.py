"""Generator of the archive-export/1 test vectors (EXPORT-SPEC.md 10).

Writes ``archive/integrity/vectors/export/*.zip`` and ``index.json``: the honest package of
:mod:`tests.vectors.export_package` (two cameras, a gap, a clock entry before the range, a range
proof into a larger tree) and packages tampered with under three attacker models, each with the
verdict and the first failing step a verifier must report. Deterministic: fixed keys (seeds from
SHA-256 of fixed labels), fixed times, zip members in a fixed order with a fixed date; running
it twice gives the same bytes.

Run: ``python -m tests.vectors.export_vectors [OUT_DIR]``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.export.verifier.custody import ZERO
from archive.export.verifier.formats import canonical, keys_text
from archive.integrity import SignedNote, sign_note
from tests.vectors.export_package import (
    ARCHIVE,
    ARCHIVE_SEED,
    CAMERA_SEED,
    CAMERAS,
    FORGER_SEED,
    NEW_SEED,
    OUT,
    PACKAGE,
    WITNESS,
    Pkg,
    fp,
    honest,
    manifest_bytes,
    seal,
    signature,
    signer,
    write_zip,
)

__all__ = ["CONTENT", "FORGER", "INSIDER", "NONE", "OUT", "PACKAGE", "Vector", "build", "vectors"]

Tamper = Callable[[Pkg], tuple[Pkg, bytes | None, bytes | None]]
"""A tamper: the changed package, and the manifest and signature bytes if not the sealed ones."""


def _edit(pkg: Pkg, path: str, fn: Callable[[bytes], bytes]) -> None:
    data, kind = pkg.files[path]
    pkg.files[path] = (fn(data), kind)


def _seg(pkg: Pkg, cam: str = "cam-1", i: int = 0) -> str:
    return str(pkg.manifest["cameras"][CAMERAS.index(cam)]["segments"][i]["path"])


def _insider(fn: Callable[[Pkg], None], custody_events: bool = False) -> Tamper:
    """Change files, then re-list and re-sign with the archive's own key (custody log kept, or
    rewritten too with ``custody_events``)."""

    def run(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
        fn(pkg)
        seal(pkg, custody_events=custody_events)
        return pkg, None, None

    return run


def _content(fn: Callable[[Pkg], None]) -> Tamper:
    """Change files only: the manifest and its signature stay as the archive made them."""

    def run(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
        m = manifest_bytes(pkg.manifest)
        sig = signature(m, pkg.key_seed)
        fn(pkg)
        return pkg, m, sig

    return run


def _flip(data: bytes) -> bytes:
    return data[:10] + bytes([data[10] ^ 1]) + data[11:]


def _forged(pkg: Pkg) -> None:
    """Everything re-signed by the forger's key: checkpoints, keys file, manifest."""
    pkg.key_seed = FORGER_SEED
    names = [f"{ARCHIVE}/export", *(f"{ARCHIVE}/camera/{c}" for c in CAMERAS)]
    pkg.files["keys/keys.txt"] = (keys_text([signer(n, FORGER_SEED).verifier_key for n in names]).encode(), "keys")
    for cam in CAMERAS:
        path = f"cameras/{cam}/checkpoint.note"
        text = SignedNote.parse(pkg.files[path][0]).text
        pkg.files[path] = (sign_note(text, [signer(f"{ARCHIVE}/camera/{cam}", FORGER_SEED)]).to_bytes(), "checkpoint")


def _relabel(pkg: Pkg) -> None:
    a, b = pkg.manifest["cameras"]
    a["id"], b["id"] = b["id"], a["id"]


def _slip(pkg: Pkg) -> None:
    pkg.files["cameras/cam-1/segments/000000000003_0099.ts"] = (b"a file standing in the outage\n", "segment")


def _drop_entry(pkg: Pkg) -> None:
    lines = pkg.files["cameras/cam-1/entries.jsonl"][0].splitlines(keepends=True)
    pkg.files["cameras/cam-1/entries.jsonl"] = (b"".join(lines[:3] + lines[4:]), "entries")


def _early_ongoing(pkg: Pkg) -> None:
    """cam-1 said to be in an ongoing outage (not yet logged, EXPORT-SPEC.md 4.1) from 20 s, but its
    exported log runs to 35 s: logged time passed off as an outage."""
    pkg.manifest["cameras"][0]["ongoing_outage"] = {
        "from": "2025-03-14T02:00:20.000000Z", "until": pkg.manifest["created_at"], "logged": False,
        "state": "reconnecting", "note": "not yet logged"}  # fmt: skip


def _truncate_custody(pkg: Pkg) -> None:
    lines = pkg.files["custody.jsonl"][0].splitlines(keepends=True)
    pkg.files["custody.jsonl"] = (b"".join(lines[:-1]), "custody")


def _bad_evidence(pkg: Pkg) -> None:
    """The built event names another evidence_sha256; chain re-linked, head re-signed."""
    lines = pkg.files["custody.jsonl"][0].splitlines()
    out, prev = [], ZERO
    for line in lines:
        d = json.loads(line)
        if d["event"] == "built":
            d["detail"]["evidence_sha256"] = "0" * 64
        d["prev"] = prev
        out.append(canonical(d))
        prev = hashlib.sha256(out[-1]).hexdigest()
    pkg.files["custody.jsonl"] = (b"".join(x + b"\n" for x in out), "custody")


def _sig_lines(extra: Callable[[bytes], bytes]) -> Tamper:
    def run(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
        m = manifest_bytes(pkg.manifest)
        return pkg, m, extra(signature(m, pkg.key_seed))

    return run


def _unknown_line(sig: bytes) -> bytes:
    note = SignedNote.parse(sig)
    other = sign_note(note.text, [signer("someone.else/export", FORGER_SEED)]).signatures[0]
    return note.with_signature(other).to_bytes()


def _duplicate_line(sig: bytes) -> bytes:
    return sig + sig.splitlines(keepends=True)[-1]


def _malformed_line(sig: bytes) -> bytes:
    return sig + "\u2014 vectors.example/export not-base64!\n".encode()


def _bad_signature(sig: bytes) -> bytes:
    lines = sig.splitlines(keepends=True)
    last = lines[-1].decode()
    cut = last.rindex(" ") + 1
    raw = bytearray(base64.b64decode(last[cut:].strip()))
    raw[10] ^= 1
    return b"".join(lines[:-1]) + (last[:cut] + base64.b64encode(bytes(raw)).decode() + "\n").encode()


def _add_key(pkg: Pkg, name: str, key_seed: bytes) -> None:
    """keys/keys.txt lists the key of ``key_seed`` under ``name`` too (besides its genuine lines)."""
    line = signer(name, key_seed).verifier_key.encode()
    _edit(pkg, "keys/keys.txt", lambda d: d + line.encode() + b"\n")


def _camera_key_signs_manifest(pkg: Pkg) -> None:
    """The holder of the camera key alone lists it under the export key's name and signs an
    edited manifest with it."""
    _add_key(pkg, f"{ARCHIVE}/export", CAMERA_SEED)
    pkg.key_seed = CAMERA_SEED
    pkg.manifest["case"]["reason"] = "written by the holder of the camera key"


def _export_key_signs_log(pkg: Pkg) -> None:
    """The holder of the export key alone lists it under cam-1's log origin and signs cam-1's
    checkpoint with it (as it would after rewriting the log)."""
    origin = f"{ARCHIVE}/camera/cam-1"
    _add_key(pkg, origin, ARCHIVE_SEED)
    path = "cameras/cam-1/checkpoint.note"
    text = SignedNote.parse(pkg.files[path][0]).text
    pkg.files[path] = (sign_note(text, [signer(origin, ARCHIVE_SEED)]).to_bytes(), "checkpoint")


def _noncanonical_proof(pkg: Pkg) -> None:
    _edit(pkg, "cameras/cam-1/range-proof.json",
          lambda d: json.dumps(json.loads(d), indent=1).encode() + b"\n")  # fmt: skip


def _non_ascii_key(pkg: Pkg) -> None:
    extra = signer("vectors.example/caméra", FORGER_SEED).verifier_key.encode()
    _edit(pkg, "keys/keys.txt", lambda d: d + extra.encode() + b"\n")


def _long_reason(pkg: Pkg) -> None:
    pkg.manifest["case"]["reason"] = "x" * 4097


def _member(name: str, data: bytes = b"not listed\n") -> Tamper:
    def run(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
        pkg.extra_members.append((name, data))
        return pkg, None, None

    return run


def _duplicate_member(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
    data = manifest_bytes(pkg.manifest)
    pkg.extra_members.append((f"{pkg.top}/manifest.json", data))
    return pkg, None, None


def _renamed_top(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
    pkg.top = "CASE-2_exp-vector-1"
    return pkg, None, None


def _manifest_edited(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
    sig = signature(manifest_bytes(pkg.manifest), pkg.key_seed)
    pkg.manifest["case"]["reason"] = "edited"
    return pkg, manifest_bytes(pkg.manifest), sig


def _same(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
    return pkg, None, None


@dataclass(frozen=True)
class Vector:
    """One vector: file stem, what was done, attacker model, trust given, expected outcome."""

    name: str
    description: str
    model: str
    tamper: Tamper
    trust: tuple[str, ...]
    verdict: str
    step: int | None
    rotated: bool = False
    split: bool = False
    witnessed: bool = False
    witness: tuple[str, ...] = ()


def both(fingerprint: str) -> tuple[str, str]:
    """``--trust`` values trusting one key for both purposes (a package made before separate keys)."""
    return f"export={fingerprint}", f"camera={fingerprint}"


FA, FN, FF, FC = fp(ARCHIVE_SEED), fp(NEW_SEED), fp(FORGER_SEED), fp(CAMERA_SEED)
A, N, F = both(FA), both(FN), both(FF)
SPLIT = (f"export={FA}", f"camera={FC}")
"""The trust of a package signed with separate keys: the export key and the camera key, each for its purpose."""
W = WITNESS.verifier_key.encode()
CONTENT, FORGER, INSIDER, NONE = "content only", "attacker key", "archive key", "none (honest)"


def vectors() -> list[Vector]:
    """Every vector, in index order."""
    def seg1(p: Pkg) -> None:
        _edit(p, _seg(p), _flip)

    v = [
        Vector("honest", "the honest package", NONE, _same, A, "VALID", None),
        Vector("honest-no-trust", "the honest package, no trust root given", NONE, _same, (), "UNVERIFIED", 8),
        Vector("honest-other-trust", "the honest package, trusting another key", NONE, _same, F, "INVALID", 2),
        Vector("rotated-trust-new", "logs and export key rotated; trusting the new key", NONE, _same, N, "VALID",
               None, rotated=True),
        Vector("rotated-trust-old", "logs and export key rotated; trusting only the old key: no trust is carried "
               "over by a key entry inside an export", NONE, _same, A, "INVALID", 2, rotated=True),
        Vector("split-keys", "the honest package signed with separate keys (export key: manifest; camera key: "
               "logs), each trusted for its purpose", NONE, _same, SPLIT, "VALID", None, split=True),
        Vector("split-keys-purposes-swapped", "separate keys, the two fingerprints given for each other's "
               "purpose: a key is trusted for one purpose only", NONE, _same, (f"export={FC}", f"camera={FA}"),
               "INVALID", 2, split=True),
        Vector("camera-key-signs-manifest", "the camera key, listed also under the export key's name, signs an "
               "edited manifest (holder of the camera key only)", INSIDER,
               _insider(_camera_key_signs_manifest, True), SPLIT, "INVALID", 2, split=True),
        Vector("export-key-signs-log", "the export key, listed also under cam-1's log origin, signs cam-1's "
               "checkpoint (holder of the export key only)", INSIDER, _insider(_export_key_signs_log, True), SPLIT,
               "INVALID", 6, split=True),
        Vector("witnessed", "every checkpoint cosigned by a witness; the archive's keys and the witness key "
               "trusted", NONE, _same, A, "VALID", None, witnessed=True, witness=(W,)),
        Vector("witness-only", "every checkpoint cosigned by the witness given with --witness, no --trust: a "
               "witness vouches for the logs, not for the manifest", NONE, _same, (), "UNVERIFIED", 8,
               witnessed=True, witness=(W,)),
        Vector("segment-byte-flipped", "one byte of a segment file changed", CONTENT, _content(seg1), A,
               "INVALID", 4),
        Vector("segment-byte-flipped-resealed", "one byte of a segment changed, manifest re-listed and re-signed",
               INSIDER, _insider(seg1), A, "INVALID", 6),
        Vector("manifest-edited", "manifest.json edited, signature kept", CONTENT, _manifest_edited, A,
               "INVALID", 2),
        Vector("forged-all-trusted", "every signature made by a forger's key, verified with the archive's "
               "fingerprint", FORGER, _insider(_forged, True), A, "INVALID", 2),
        Vector("forged-all-untrusted", "every signature made by a forger's key, no trust root given", FORGER,
               _insider(_forged, True), (), "UNVERIFIED", 8),
        Vector("bad-signature", "a bit of the manifest signature flipped", CONTENT, _sig_lines(_bad_signature),
               A, "INVALID", 2),
        Vector("signature-line-unknown-key", "a second signature line by a key the package does not list",
               CONTENT, _sig_lines(_unknown_line), A, "INVALID", 2),
        Vector("signature-line-duplicate", "the export key's signature line twice", CONTENT,
               _sig_lines(_duplicate_line), A, "INVALID", 2),
        Vector("signature-line-malformed", "a signature line that is not name and base64", CONTENT,
               _sig_lines(_malformed_line), A, "INVALID", 2),
        Vector("keys-non-ascii-name", "keys/keys.txt lists a key whose name is not ASCII", INSIDER,
               _insider(_non_ascii_key), A, "INVALID", 2),
        Vector("duplicate-member", "manifest.json twice in the zip", CONTENT, _duplicate_member, A, "INVALID", 1),
        Vector("path-traversal", "a member named <package>/../evil.txt", CONTENT,
               _member(f"{PACKAGE}/../evil.txt"), A, "INVALID", 1),
        Vector("member-outside-folder", "a member outside the package folder", CONTENT, _member("evil.txt"), A,
               "INVALID", 1),
        Vector("member-non-ascii", "a member name that is not ASCII", CONTENT,
               _member(f"{PACKAGE}/cameras/cam-1/segments/caf\u00e9.ts"), A, "INVALID", 1),
        Vector("unlisted-member", "a file added that the manifest does not list", CONTENT,
               _member(f"{PACKAGE}/cameras/cam-1/segments/000000000003_0099.ts"), A, "INVALID", 4),
        Vector("long-string", "a manifest string of 4097 code points", INSIDER, _insider(_long_reason), A,
               "INVALID", 3),
        Vector("relabelled-camera", "the two camera sections swap their ids (genuine logs, wrong camera)", INSIDER,
               _insider(_relabel), A, "INVALID", 3),
        Vector("zip-folder-renamed", "the zip's folder is not the manifest's package name", CONTENT, _renamed_top,
               A, "INVALID", 3),
        Vector("slipped-segment-file", "a segment file in the outage that no entry vouches for, listed and re-signed",
               INSIDER, _insider(_slip), A, "INVALID", 5),
        Vector("entry-removed", "the gap entry removed from entries.jsonl, re-listed and re-signed", INSIDER,
               _insider(_drop_entry), A, "INVALID", 6),
        Vector("ongoing-outage-hides-log", "an ongoing outage (not yet logged) said to begin before the exported "
               "log ends, re-signed", INSIDER, _insider(_early_ongoing), A, "INVALID", 6),
        Vector("clock-before-wrong", "cam-1's clock_before names a segment entry, not the first exported entry "
               "(the clock entry before the range), re-signed", INSIDER,
               _insider(lambda p: p.manifest["cameras"][0].update(clock_before=1)), A, "INVALID", 6),
        Vector("proof-not-canonical", "range-proof.json re-indented (same values)", INSIDER,
               _insider(_noncanonical_proof), A, "INVALID", 6),
        Vector("proof-two-newlines", "range-proof.json with a second final newline", INSIDER,
               _insider(lambda p: _edit(p, "cameras/cam-1/range-proof.json", lambda d: d + b"\n")), A,
               "INVALID", 6),
        Vector("entries-no-final-newline", "entries.jsonl without its final newline", INSIDER,
               _insider(lambda p: _edit(p, "cameras/cam-1/entries.jsonl", lambda d: d[:-1])), A, "INVALID", 6),
        Vector("custody-truncated", "the custody log's last event (built) cut off, head re-signed", INSIDER,
               _insider(_truncate_custody), A, "INVALID", 7),
        Vector("custody-cut-short", "the custody log cut in its last line", CONTENT,
               _content(lambda p: _edit(p, "custody.jsonl", lambda d: d[:-20])), A, "INVALID", 4),
        Vector("evidence-sha256-wrong", "the built event's evidence_sha256 changed, chain re-linked, re-signed",
               INSIDER, _insider(_bad_evidence), A, "INVALID", 7),
        Vector("evidence-changed-after-seal", "README.txt replaced after the custody log was sealed, re-signed",
               INSIDER, _insider(lambda p: _edit(p, "README.txt", lambda d: b"trust me\n")), A, "INVALID", 7),
    ]  # fmt: skip
    return v


def build(out: Path) -> dict[str, Any]:
    """Write every vector into ``out`` and return the index."""
    out.mkdir(parents=True, exist_ok=True)
    bases = {(False, False, False): honest(), (True, False, False): honest(rotate=True),
             (False, True, False): honest(split=True), (False, False, True): honest(witnessed=True)}
    index: dict[str, Any] = {
        "format": "archive-export-vectors/1",
        "spec": "archive/integrity/EXPORT-SPEC.md, section 10",
        "keys": {"archive": FA, "archive after rotation": FN, "forger": FF, "archive camera key (split-keys)": FC,
                 "witness": W},
        "vectors": [],
    }
    for vec in vectors():
        pkg, manifest, sig = vec.tamper(bases[vec.rotated, vec.split, vec.witnessed].copy())
        path = out / f"{vec.name}.zip"
        write_zip(pkg, path, manifest=manifest, sig=sig)
        index["vectors"].append({
            "file": path.name, "description": vec.description, "attacker": vec.model, "trust": list(vec.trust),
            "witness": list(vec.witness), "verdict": vec.verdict, "step": vec.step,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    (out / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return index


def main(argv: list[str]) -> int:
    """Write the vectors (default folder: archive/integrity/vectors/export)."""
    out = Path(argv[0]) if argv else OUT
    index = build(out)
    print(f"{len(index['vectors'])} vectors written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
