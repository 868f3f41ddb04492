"""The rules of ``archive-export/1`` (EXPORT-SPEC.md) that the log format does not cover,
each a check of its own so it is reported with its step:

- **keys file** (step 2): ``keys/keys.txt`` is ASCII lines, each ending in LF.
- **signature lines** (step 2): ``manifest.json.sig`` carries only lines of the export key
  (its name ``<archive>/export``, its key id one that ``keys/keys.txt`` lists), each once; a
  line from an unknown key, a second line of the same key or a malformed line fails.
- **manifest rules** (step 3): the zip's top folder is the manifest's ``package``; every
  string is at most :data:`MAX_STRING` code points, every integer within +-(2^53-1); names
  (archive name, key names, log origins) are ASCII; the export key is ``<archive>/export`` and
  every camera's log is ``<archive>/camera/<id>`` (one name binds key, log and camera).
- **camera <id> files** (step 6): one-line files (``range-proof.json``) are canonical JSON
  and exactly one LF; every line file ends with LF; the checkpoint note carries no signature
  line twice, and every line of the log's own name is by a key ``keys/keys.txt`` lists (witness
  lines are checked by :mod:`.witness`).
- **custody evidence** (step 7): the ``built`` event names the files the custody log seals:
  ``evidence_sha256``, ``files``, ``media_bytes`` and ``cameras`` recomputed from the manifest.

Needs only the standard library and the bundled ``integrity``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .custody import CustodyEvent
from .formats import FormatError
from .members import one_line, text_lines
from .outcome import Check, CheckBuilder

if TYPE_CHECKING or __name__.startswith("archive."):
    from archive import integrity as itg
else:  # inside a package: the copy of integrity/ beside this folder
    import integrity as itg

__all__ = ["MAX_STRING", "NOT_EVIDENCE", "camera_files", "custody_evidence", "evidence_sha256", "keys_file",
           "manifest_rules", "signature_lines"]  # fmt: skip

MAX_STRING = 4096
"""Longest string anywhere in the manifest (Unicode code points)."""
MAX_INT = (1 << 53) - 1
NAME = re.compile(r"[!-*,-~]{1,255}")
"""An ASCII name: 1..255 printable characters other than space and '+' (EXPORT-SPEC.md 2)."""
NOT_EVIDENCE = frozenset({"custody", "report"})
"""File kinds written after the custody log is sealed (not covered by ``evidence_sha256``)."""
Read = Callable[[str], bytes]


def keys_file(data: bytes | None) -> Check:
    """Step 2: the keys file's lines (ASCII, LF-terminated)."""
    chk = CheckBuilder("keys file")
    if data is not None:
        try:
            data.decode("ascii")
            text_lines(data, "keys/keys.txt", allow_empty=False)
        except UnicodeDecodeError:
            chk.fail("keys/keys.txt is not ASCII (key names in a package are ASCII, EXPORT-SPEC.md 2)")
        except FormatError as exc:
            chk.fail(str(exc))
    return chk.build()


def signature_lines(data: bytes | None, bundled: Sequence[itg.VerifierKey]) -> Check:
    """Step 2: ``manifest.json.sig`` holds only the export key's own lines, each once."""
    chk = CheckBuilder("signature lines")
    if data is None:
        return chk.build()
    try:
        note = itg.SignedNote.parse(data)
    except itg.IntegrityError as exc:
        chk.fail(f"manifest.json.sig is not a signed note: {exc}")
        return chk.build()
    seen: set[tuple[str, bytes]] = set()
    for sig in note.signatures:
        label = f"{sig.name}+{sig.key_id.hex()}"
        if (sig.name, sig.key_id) in seen:
            chk.fail(f"manifest.json.sig carries two signature lines of {label}")
        seen.add((sig.name, sig.key_id))
        if not sig.name.endswith("/export"):
            chk.fail(f"manifest.json.sig has a signature line of {label}, which is not an export key "
                     "(<archive>/export): only the archive's export key signs a manifest")  # fmt: skip
        elif not any((k.name, k.key_id) == (sig.name, sig.key_id) for k in bundled):
            chk.fail(f"manifest.json.sig has a signature line of {label}, a key keys/keys.txt does not list")
    return chk.build()


def _walk(value: Any, where: str, chk: CheckBuilder) -> None:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            chk.fail(f"manifest.json {where}: a string of {len(value)} code points (at most {MAX_STRING})")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            chk.fail(f"manifest.json {where}: integer {value} outside +-(2^53-1)")
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk(k, where, chk)
            _walk(v, f"{where}.{k}", chk)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{where}[{i}]", chk)


def manifest_rules(m: dict[str, Any] | None, top: str | None, sig: bytes | None) -> Check:
    """Step 3: lengths, ASCII names and the one name that binds key, log and camera."""
    chk = CheckBuilder("manifest rules")
    if m is None:
        return chk.build()
    _walk(m, "$", chk)
    if top is not None and m.get("package") != top:
        chk.fail(f"the zip's folder is {top}/, the manifest names package {m.get('package')!r}")
    try:
        archive = str(m["archive"]["name"])
        key_name = str(m["signing_key"]["name"])
        sections = [(str(c["id"]), str(c["log"])) for c in m["cameras"]]
    except (KeyError, TypeError) as exc:
        chk.fail(f"manifest.json: archive name, signing key or cameras malformed: {exc!r}")
        return chk.build()
    for what, name in (("archive name", archive), ("signing key name", key_name),
                       *((f"log of camera {c}", log) for c, log in sections)):  # fmt: skip
        if not NAME.fullmatch(name):
            chk.fail(f"manifest.json: {what} {name!r} is not an ASCII name (1-255 printable, no space or '+')")
    if key_name != f"{archive}/export":
        chk.fail(f"manifest.json: the signing key is named {key_name!r}, the export key of archive {archive!r} is "
                 f"{archive}/export")  # fmt: skip
    for cam, log in sections:
        if log != f"{archive}/camera/{cam}":
            chk.fail(f"camera {cam}: its log is {log!r}, the log of camera {cam} of archive {archive!r} is "
                     f"{archive}/camera/{cam}")  # fmt: skip
    if sig is not None:
        try:
            names = {s.name for s in itg.SignedNote.parse(sig).signatures}
            if names and names != {key_name}:
                chk.fail(f"manifest.json.sig is signed under {', '.join(sorted(names))}, the manifest names the "
                         f"signing key {key_name}")  # fmt: skip
        except itg.IntegrityError:
            pass  # reported by step 2
    return chk.build()


def camera_files(section: dict[str, Any], read: Read, bundled: Sequence[itg.VerifierKey] = ()) -> Check:
    """Step 6: the line rules of one camera's log files."""
    cam = str(section.get("id"))
    chk = CheckBuilder(f"camera {cam} files")
    try:
        proof = str(section["range_proof"])
        line = one_line(read(proof), proof)
        if itg.RangeProof.from_json(line).to_json() != line:
            chk.fail(f"{proof} is not canonical JSON")
        text_lines(read(str(section["entries"]["path"])), str(section["entries"]["path"]), allow_empty=False)
        prunes = section.get("prunes")
        if prunes:
            for key in ("path", "proofs"):
                path = str(prunes[key])
                for raw in text_lines(read(path), path):
                    if key == "proofs" and itg.InclusionProof.from_json(raw).to_json() != raw:
                        chk.fail(f"{path}: a proof that is not canonical JSON")
        note = itg.SignedNote.parse(read(str(section["checkpoint"]["path"])))
        pairs = [(s.name, s.key_id) for s in note.signatures]
        if len(set(pairs)) != len(pairs):
            chk.fail(f"{section['checkpoint']['path']}: a signature line occurs twice")
        listed = {(k.name, k.key_id) for k in bundled}
        for name, key_id in pairs:
            if name == section.get("log") and (name, key_id) not in listed:
                chk.fail(f"{section['checkpoint']['path']}: a signature line of {name}+{key_id.hex()}, a log key "
                         "keys/keys.txt does not list")  # fmt: skip
    except (KeyError, TypeError, OSError, FormatError, itg.IntegrityError) as exc:
        chk.fail(f"camera {cam}: {exc}")
    return chk.build()


def evidence_sha256(files: Sequence[dict[str, Any]]) -> tuple[str, int, int]:
    """``(evidence_sha256, number of files, media bytes)`` over the manifest's file list: the
    SHA-256 of the canonical JSON ``{"files":[[path, sha256, size], ...]}`` of every file whose
    kind is not custody or report, sorted by path (EXPORT-SPEC.md 6.3)."""
    from .formats import canonical

    chosen = sorted((f for f in files if f.get("kind") not in NOT_EVIDENCE), key=lambda f: str(f["path"]))
    digest = hashlib.sha256(canonical({"files": [[f["path"], f["sha256"], f["size"]] for f in chosen]})).hexdigest()
    media = sum(int(f["size"]) for f in chosen if f.get("kind") == "segment")
    return digest, len(chosen), media


def custody_evidence(m: dict[str, Any] | None, events: Sequence[CustodyEvent]) -> Check:
    """Step 7: the ``built`` event seals exactly the evidence files the manifest lists."""
    chk = CheckBuilder("custody evidence")
    built = [e for e in events if e.event == "built"]
    if m is None or not built:
        return chk.build()
    try:
        digest, count, media = evidence_sha256(m["files"])
    except (KeyError, TypeError, ValueError) as exc:
        chk.fail(f"the manifest's file list is malformed: {exc!r}")
        return chk.build()
    d = built[-1].detail
    cams = sorted(str(c.get("id")) for c in m.get("cameras", []) if isinstance(c, dict))
    want: dict[str, Any] = {"evidence_sha256": digest, "files": count, "media_bytes": media, "cameras": cams}
    for key, value in want.items():
        got: Any = d.get(key)
        if key == "cameras" and isinstance(got, list):
            got = sorted(map(str, got))
        if got != value:
            chk.fail(f"the custody log's 'built' event (seq {built[-1].seq}) says {key} {got!r}, the manifest's "
                     f"files give {value!r}: the evidence files changed after the custody log was sealed")  # fmt: skip
    if not chk.failures:
        chk.note(f"the 'built' event seals the {count} evidence files (evidence_sha256 {digest})")
    return chk.build()
