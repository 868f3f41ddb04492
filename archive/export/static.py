"""The files every package carries besides the evidence: README, the standalone verifier
(``verify_package.py`` + ``verifier/``), the integrity package with its SPEC.md, and the keys."""

from __future__ import annotations

import textwrap
from pathlib import Path

import archive.integrity
from archive.export import verifier
from archive.export.job import BuildJob
from archive.export.model import ExportSettings
from archive.export.report_text import log_fingerprints, trust_text, when_us
from archive.export.verifier.formats import fingerprint, keys_text
from archive.export.verifier.wording import trust_flags
from archive.export.zipout import PackageWriter

__all__ = ["add_static", "readme"]

INTEGRITY_DIR = Path(archive.integrity.__file__).resolve().parent
VERIFIER_DIR = Path(verifier.__file__).resolve().parent
LAUNCHER = Path(__file__).resolve().parent / "verify_package.py"


SPECS = ("SPEC.md", "EXPORT-SPEC.md", "export-manifest.schema.json")
"""The specifications every package carries in ``integrity/`` (log format, package format, manifest schema)."""


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and (p.suffix == ".py" or p.name in SPECS))


def readme(job: BuildJob, settings: ExportSettings) -> str:
    """README.txt: what the package is and how to check it."""
    rec, fp = job.record, fingerprint(job.signer.public_key)
    logs = log_fingerprints(job.signer, job.keys)
    flags = trust_flags(fp, logs)
    return f"""EVIDENCE EXPORT - case {rec.case_id} (export {rec.id})
Format: archive-export/1, made by the Mojokerto command center archive ({job.archive_name}).

What is in this folder
  manifest.json          what this package claims: case, legal basis, requester, approvals, operator,
                         requested range, cameras, and the SHA-256 and size of every file.
                         Requested range: {when_us(settings, rec.start_us)}
                                     to   {when_us(settings, rec.end_us)}
  manifest.json.sig      Ed25519 signature (C2SP signed note) over the SHA-256 of manifest.json.
  report.html, report.pdf
                         the human-readable report (the same in HTML and PDF): coverage, every gap
                         with its reason, hashes, who did what and when (UTC and {settings.zone_name}).
  custody.jsonl          the custody log of this export (hash-chained JSON lines).
  cameras/<id>/segments/ the native video segments, byte for byte as stored.
  cameras/<id>/entries.jsonl, range-proof.json, checkpoint.note
                         the camera's tamper-evident log entries covering the range, the proof that
                         they are exactly entries L..R-1 of the log, and the signed checkpoint.
  cameras/<id>/working-copy-DERIVED.mp4
                         a DERIVED copy for viewing (segments joined, no re-encoding). Not evidence.
  keys/keys.txt          the public keys that signed this package and the checkpoints, and the
                         keys of the witnesses whose cosignatures the checkpoints carry.
  integrity/EXPORT-SPEC.md, integrity/export-manifest.schema.json
                         the specification of this package (archive-export/1): every file, what
                         is signed by which key, the custody log, the numbered verifier steps.
  integrity/SPEC.md      the specification of the log format (archive-log/1).
  verify_package.py      the verifier: needs only Python 3.11+ and the 'cryptography' package.

The key to trust
{textwrap.fill(trust_text(job.signer, logs), 100, initial_indent="  ", subsequent_indent="  ")}

How to verify (no network needed)
  1. Get the archive's signing-key fingerprints FROM THE ARCHIVE'S OPERATOR, not from this package
     (a forger writes this folder too): the operator prints it with 'archive export key' and
     publishes it; a court or police unit keeps its own copy.
  2. Use a verifier you trust: 'archive verify package' of your own installation, or a copy of
     verify_package.py taken from the archive's published source (the one in this folder may have
     been replaced with the package; compare it with the published one before you run it).
  3. Run: python verify_package.py --trust export=sha256:<the export key's fingerprint>
                                   --trust camera=sha256:<the camera key's fingerprint>
     (this package says: {flags}; believe that only if it matches step 1; each fingerprint is
     trusted for the one purpose you give it)

  The verifier prints every check. VALID (exit 0) only when every check holds AND the signatures
  chain to the keys you gave; a package that is intact but signed by a key you did not give is
  UNVERIFIED (exit 3), never VALID; INVALID is exit 1. To include events after the package was made
  (downloads, verifications), ask the archive for 'archive export custody {rec.id}' and pass it
  with --custody. Witness cosignatures on the checkpoints are checked with the witness keys in
  keys/keys.txt; to require one by a witness you trust, pass its verifier key with --witness
  (repeatable). A witness vouches for the camera logs it cosigned, not for the manifest (case,
  custody): with witness keys alone the verdict is UNVERIFIED; VALID needs --trust export=...
  A cameras/<id>/checkpoint.tsr file is an RFC 3161 time-stamp token over that camera's
  checkpoint (EXPORT-SPEC.md 7.6); to require one on every camera by a time-stamping authority you
  trust, pass its certificate (obtained from the TSA) with --tsa-cert FILE.
"""


def add_static(w: PackageWriter, job: BuildJob, settings: ExportSettings) -> None:
    """Write README.txt, the verifier, the integrity package and keys/keys.txt. Raises OSError."""
    w.add_bytes("README.txt", readme(job, settings).encode("utf-8"), "readme")
    w.add_file("verify_package.py", LAUNCHER, "verifier", executable=True)
    for p in _sources(VERIFIER_DIR):
        w.add_file(f"verifier/{p.name}", p, "verifier")
    for p in _sources(INTEGRITY_DIR):
        w.add_file(f"integrity/{p.name}", p, "verifier" if p.suffix == ".py" else "spec")
    header = ["Public keys of the archive that signed this package (manifest.json.sig) and the camera logs",
              "(checkpoint.note). Trust them only after comparing a fingerprint with the archive's published one."]
    text = keys_text(job.keys, header)
    if settings.witness_keys:
        note = "Witness keys (cosignature/v1): the cosignatures in the checkpoint.note files are checked with these."
        text += keys_text(settings.witness_keys, [note])
    w.add_bytes("keys/keys.txt", text.encode("utf-8"), "keys")
