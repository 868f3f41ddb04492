"""Formats of an ``archive-export/1`` package besides the camera logs (those are in SPEC.md).

- **Canonical JSON**: sorted keys, no spaces, UTF-8, integers only (SPEC.md 3.1 rules).
- **Manifest signature** ``manifest.json.sig``: a C2SP signed note (SPEC.md 7.2) whose text is
  three lines, ``archive-export/1 manifest``, ``export <id>`` and ``sha256 <hex of the exact
  bytes of manifest.json>``, signed with Ed25519 by the archive's export key
  (name ``<archive>/export``).
- **Key fingerprint**: ``sha256:`` + hex SHA-256 of the 32-byte Ed25519 public key (the name
  is not hashed). The archive signs its manifest with its export key and its camera logs with
  its camera key (one key under one name per log; EXPORT-SPEC.md 5.2), so a package names two
  fingerprints (one, for a package of an archive made before separate keys); a key is trusted
  for one purpose (``--trust export=F``, ``--trust camera=F``) and counts only under that
  purpose's names that the keys file binds to it (EXPORT-SPEC.md 5.4).
- **Keys file** ``keys/keys.txt``: one verifier key (SPEC.md 7.1) per line; ``#`` comments.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __name__.startswith("archive."):
    from archive import integrity as itg
else:  # inside a package: the copy of integrity/ beside this folder
    import integrity as itg

__all__ = [
    "CAMERA",
    "EXPORT",
    "MANIFEST_NOTE_HEAD",
    "PURPOSES",
    "FormatError",
    "ManifestNote",
    "Trust",
    "canonical",
    "fingerprint",
    "keys_text",
    "parse_keys",
    "parse_strict",
    "purpose_of",
    "resolve_trust",
]

MANIFEST_NOTE_HEAD = "archive-export/1 manifest"
_HEX = re.compile("[0-9a-f]+")
MIN_FINGERPRINT_HEX = 32


class FormatError(ValueError):
    """A package file does not follow its format; the message says which and how."""


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8, no escapes beyond ``\\"`` and ``\\\\``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise FormatError(f"duplicate member {k!r}")
        out[k] = v
    return out


def _no_float(text: str) -> Any:
    raise FormatError(f"non-integer number {text}")


def parse_strict(data: bytes, what: str, *, require_canonical: bool = False) -> dict[str, Any]:
    """Parse a JSON object strictly (UTF-8, no duplicate members, no floats).

    Raises:
        FormatError: otherwise, or (``require_canonical``) when the bytes are not canonical.
    """
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_pairs, parse_float=_no_float,
                           parse_constant=_no_float)  # fmt: skip
    except FormatError as exc:
        raise FormatError(f"{what}: {exc}") from exc
    except ValueError as exc:
        raise FormatError(f"{what}: not UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise FormatError(f"{what}: not a JSON object")
    if require_canonical and canonical(value) != data:
        raise FormatError(f"{what}: not in canonical encoding")
    return value


def fingerprint(public_key: bytes) -> str:
    """``sha256:<hex>`` of a 32-byte Ed25519 public key."""
    return "sha256:" + hashlib.sha256(public_key).hexdigest()


@dataclass(frozen=True)
class ManifestNote:
    """The signed statement about ``manifest.json``: export id and SHA-256 of its bytes."""

    export_id: str
    sha256: str

    def text(self) -> str:
        """The note text (three lines, final newline)."""
        return f"{MANIFEST_NOTE_HEAD}\nexport {self.export_id}\nsha256 {self.sha256}\n"

    @classmethod
    def parse(cls, text: str) -> ManifestNote:
        """Parse the note text. Raises FormatError."""
        lines = text.split("\n")
        if len(lines) != 4 or lines[3] != "" or lines[0] != MANIFEST_NOTE_HEAD:
            raise FormatError(f"manifest.json.sig: the signed text is not the three lines of {MANIFEST_NOTE_HEAD}")
        if not lines[1].startswith("export ") or not lines[2].startswith("sha256 "):
            raise FormatError("manifest.json.sig: expected 'export <id>' and 'sha256 <hex>' lines")
        digest = lines[2][len("sha256 ") :]
        if len(digest) != 64 or not _HEX.fullmatch(digest):
            raise FormatError("manifest.json.sig: the sha256 line is not 64 lowercase hex digits")
        return cls(lines[1][len("export ") :], digest)


def keys_text(keys: Sequence[itg.VerifierKey], header: Sequence[str] = ()) -> str:
    """The keys file: comment lines, then one verifier key per line with its fingerprint."""
    lines = [f"# {h}" for h in header]
    for k in keys:
        lines.append(f"# {k.name}: fingerprint {fingerprint(k.public_key)}")
        lines.append(k.encode())
    return "\n".join(lines) + "\n"


def parse_keys(text: str, what: str = "keys/keys.txt") -> list[itg.VerifierKey]:
    """Verifier keys, one per line (the last word of a line; blank and ``#`` lines skipped).

    Raises:
        FormatError: a line that is not a verifier key.
    """
    out: list[itg.VerifierKey] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.append(itg.VerifierKey.parse(line.split()[-1]))
        except itg.IntegrityError as exc:
            raise FormatError(f"{what} line {n}: {exc}") from exc
    return out


EXPORT = "export"
"""Purpose of the export key: it signs ``manifest.json.sig`` under ``<archive>/export``."""
CAMERA = "camera"
"""Purpose of the camera key: it signs every camera log's checkpoints under ``<archive>/camera/<id>``."""
PURPOSES = (EXPORT, CAMERA)


def purpose_of(name: str) -> str | None:
    """The purpose a signing name serves in a package: ``export`` for ``<archive>/export``,
    ``camera`` for ``<archive>/camera/<id>``, None for any other name."""
    if name.endswith("/export"):
        return EXPORT
    if "/camera/" in name:
        return CAMERA
    return None


@dataclass(frozen=True)
class Trust:
    """The keys signatures are checked against.

    ``pinned``: the keys come from the person verifying (``--trust``). Each is bound to one
    purpose (EXPORT-SPEC.md 5.4): a key given as ``export=`` counts only under the export key's
    name, one given as ``camera=`` only under log origins, in both cases only under the names
    ``keys/keys.txt`` binds to that key; a whole verifier key given without a purpose counts only
    under its own name. Otherwise the keys bundled in the package are used, each under its own
    name, which proves only that the package is intact as its signer made it. ``problems``:
    ``--trust`` values that matched no key.
    """

    public_keys: tuple[bytes, ...]
    named: tuple[itg.VerifierKey, ...]
    pinned: bool
    problems: tuple[str, ...] = ()
    given: tuple[itg.VerifierKey, ...] = ()
    purposes: tuple[tuple[str, bytes], ...] = ()

    def keys_for(self, name: str, purpose: str) -> list[itg.VerifierKey]:
        """The trusted Ed25519 note keys under ``name`` for ``purpose`` (:data:`EXPORT` when
        checking the manifest, :data:`CAMERA` a camera log). Pinned: a key trusted for the other
        purpose never counts, whatever name the package lists it under."""
        if purpose_of(name) != purpose:
            return []
        if self.pinned:
            raw = {pk for p, pk in self.purposes if p == purpose}
            bound = [k for k in self.named if k.name == name and k.public_key in raw]
            given = [k for k in self.given if k.name == name]
            return [k for k in {k.encode(): k for k in (*bound, *given) if k.alg == itg.ALG_ED25519}.values()]
        return [k for k in self.named if k.name == name and k.alg == itg.ALG_ED25519]

    def describe(self) -> str:
        """One line for the report."""
        if self.pinned:
            parts = [f"{p} {fingerprint(pk)}" for p, pk in dict.fromkeys(self.purposes)]
            parts += [f"{k.name} {fingerprint(k.public_key)}" for k in self.given]
            return f"trusted keys given with --trust: {', '.join(parts) or 'none'}"
        prints = ", ".join(sorted({fingerprint(pk) for pk in self.public_keys})) or "none"
        return (f"keys bundled in the package only ({prints}); this shows the package is intact as its signer "
                "made it, not who the signer is: compare the fingerprints with the archive's published ones, "
                "or run again with --trust export=FINGERPRINT --trust camera=FINGERPRINT")  # fmt: skip


def _fingerprint_hex(value: str) -> str | None:
    text = value.strip().lower().removeprefix("sha256:").replace(":", "").replace(" ", "")
    if MIN_FINGERPRINT_HEX <= len(text) <= 64 and _HEX.fullmatch(text):
        return text
    return None


def _split_purpose(value: str) -> tuple[str | None, str]:
    head, sep, rest = value.partition("=")
    if sep and "+" not in head and head.strip().lower() in PURPOSES:
        return head.strip().lower(), rest.strip()
    return None, value.strip()


def resolve_trust(values: Iterable[str], bundled: Sequence[itg.VerifierKey]) -> Trust:
    """Trust from ``--trust`` values, or the bundled keys when ``values`` is empty.

    A value is ``export=KEY`` or ``camera=KEY`` (the purpose the person verifying trusts the key
    for; ``KEY`` a fingerprint of at least 32 hex digits, matched against the bundled keys, or a
    whole verifier key), or a whole verifier key alone (trusted under its own name only).

    Raises:
        FormatError: a value that is neither, or a fingerprint without its purpose.
    """
    given = [v for v in values if v.strip()]
    if not given:
        return Trust(tuple(dict.fromkeys(k.public_key for k in bundled)), tuple(bundled), pinned=False)
    keys: list[bytes] = []
    whole: list[itg.VerifierKey] = []
    purposes: list[tuple[str, bytes]] = []
    problems: list[str] = []
    for value in given:
        purpose, text = _split_purpose(value)
        if "+" in text:
            try:
                key = itg.VerifierKey.parse(text)
            except itg.IntegrityError as exc:
                raise FormatError(f"--trust {value!r}: not a verifier key: {exc}") from exc
            keys.append(key.public_key)
            if purpose is None:
                whole.append(key)
            else:
                purposes.append((purpose, key.public_key))
            continue
        hexed = _fingerprint_hex(text)
        if hexed is None:
            raise FormatError(f"--trust {value!r}: give export=FINGERPRINT or camera=FINGERPRINT (sha256:<hex>, at "
                              f"least {MIN_FINGERPRINT_HEX} hex digits), or a whole verifier key "
                              "(name+id+key)")  # fmt: skip
        if purpose is None:
            raise FormatError(f"--trust {value!r}: say which of the archive's keys this is: --trust export={text} "
                              f"for the export key (it signs the manifest) or --trust camera={text} for the camera "
                              "key (it signs the camera logs), as 'archive export key' prints them; a fingerprint "
                              "is trusted for one purpose only (a package made before separate keys: give its one "
                              "fingerprint as both)")  # fmt: skip
        found = [k.public_key for k in bundled if hashlib.sha256(k.public_key).hexdigest().startswith(hexed)]
        if not found:
            problems.append(f"no key in the package has the trusted {purpose} key fingerprint sha256:{hexed}")
        keys.extend(found)
        purposes.extend((purpose, pk) for pk in dict.fromkeys(found))
    return Trust(tuple(dict.fromkeys(keys)), tuple(bundled), pinned=True, problems=tuple(problems),
                 given=tuple(whole), purposes=tuple(dict.fromkeys(purposes)))
