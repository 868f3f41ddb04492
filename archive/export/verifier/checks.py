"""All checks of one package, in the order of the numbered steps of EXPORT-SPEC.md 9 (each
check's step is :func:`.steps.step_of` its name); every check runs (one failure does not hide
others), and the verdict names the first failing step.

1. **package**: the zip or folder opens, member names follow the member rules, the signed files
   are there.
2. **manifest signature**: ``manifest.json.sig`` verifies with a trusted export key (``--trust
   export=...``, else the bundled keys) and names the SHA-256 of ``manifest.json``; **keys file**, **signature
   lines** (:mod:`.rules`).
3. **manifest**: format, export id, requested range, cameras; **manifest rules** (lengths,
   ASCII names, one name binding export key, logs and cameras).
4. **file hashes**: every file listed has its SHA-256 and size; nothing unlisted was added.
5. **media files**: each segment file is named by exactly one camera section under one seq, and
   every file of kind ``segment`` is.
6. **camera <id>**, per camera: the log is this camera's (``<prefix>/camera/<id>``) and every
   entry names this camera; entries, range proof and signed checkpoint (SPEC.md 8), every
   witness cosignature on the checkpoint (with the bundled witness keys; each ``--witness`` key
   must have cosigned), the requested range covered by segments and gaps, every segment file
   against its entry; **camera <id> files** (line rules, canonical proof).
7. **custody log**: the hash chain, its head signed in the manifest; optionally a continued
   custody log from the archive (``--custody``), which must extend the package's; **custody
   evidence** (the ``built`` event's ``evidence_sha256``).
8. trust: VALID only when the manifest is signed by an export key the person verifying gave
   (``--trust export=...``); else UNVERIFIED, with ``--witness`` keys too (they vouch for the
   logs, not for the manifest's text).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import FORMAT
from .camera import CameraFiles, check_camera
from .custody import CustodyEvent, split_lines, verify_chain
from .formats import EXPORT, FormatError, ManifestNote, Trust, fingerprint, parse_keys, parse_strict, resolve_trust
from .outcome import Check, CheckBuilder, Outcome
from .rules import camera_files, custody_evidence, keys_file, manifest_rules, signature_lines
from .source import PackageSource, hash_member, open_package, read_all
from .timestamps import NO_TSA, load_tsa_certificates
from .witness import check_quorum, parse_witnesses
from .wording import custody_sentence, readable_facts

if TYPE_CHECKING or __name__.startswith("archive."):
    from archive import integrity as itg
else:  # inside a package: the copy of integrity/ beside this folder
    import integrity as itg

__all__ = ["Progress", "verify_package"]

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)`` while files are hashed."""

SIGNED = ("manifest.json", "manifest.json.sig")
KEYS = "keys/keys.txt"


class _Run:
    def __init__(self, src: PackageSource, progress: Progress | None, required: Sequence[itg.VerifierKey]) -> None:
        self.src = src
        self.required = list(required)
        self.quorum = len(self.required)
        self.witnesses: list[itg.VerifierKey] = []
        self.names = set(src.names())
        self.progress = progress
        self.checks: list[Check] = []
        self.facts: list[str] = []
        self.actual: dict[str, tuple[str, int]] = {}
        self.hashed = 0
        self.manifest: dict[str, Any] | None = None
        self.export_id: str | None = None
        self.trust = Trust((), (), pinned=False)
        self.events: list[CustodyEvent] = []
        self.manifest_pinned = False
        self.tsa = NO_TSA

    def maybe(self, name: str) -> bytes | None:
        """A small file's bytes, None when absent or unreadable (reported by another check)."""
        try:
            return self.read(name)
        except (KeyError, OSError, FormatError):
            return None

    def rules(self, step: int) -> None:
        """The archive-export/1 rules of ``step`` (:mod:`.rules`), each its own check."""
        m = self.manifest
        if step == 2:
            self.checks.append(keys_file(self.maybe(KEYS)))
            self.checks.append(signature_lines(self.maybe(SIGNED[1]), self.trust.named))
        elif step == 3:
            self.checks.append(manifest_rules(m, self.src.top, self.maybe(SIGNED[1])))
        elif step == 6 and m is not None and isinstance(m.get("cameras"), list):
            self.checks.extend(camera_files(c, self.read, self.trust.named) for c in m["cameras"]
                               if isinstance(c, dict))  # fmt: skip
        elif step == 7:
            self.checks.append(custody_evidence(m, self.events))

    def read(self, name: str) -> bytes:
        if name not in self.names:
            raise KeyError(f"{name} is not in the package")
        return read_all(self.src, name)

    def package(self) -> None:
        chk = CheckBuilder("package")
        for name in (*SIGNED, KEYS):
            if name not in self.names:
                chk.fail(f"{name} is missing")
        chk.note(f"{len(self.names)} files in {self.src.label}")
        self.checks.append(chk.build())

    def signature(self, trust_values: Sequence[str]) -> None:
        chk = CheckBuilder("manifest signature")
        try:
            bundled = parse_keys(self.read(KEYS).decode("utf-8"))
        except (KeyError, OSError, UnicodeDecodeError, FormatError) as exc:
            chk.fail(f"cannot read the bundled keys: {exc}")
            bundled = []
        self.witnesses = [k for k in bundled if k.alg == itg.ALG_COSIGNATURE_V1]
        self.trust = resolve_trust(trust_values, [k for k in bundled if k.alg == itg.ALG_ED25519])
        for p in self.trust.problems:
            chk.fail(p)
        try:
            note = itg.SignedNote.parse(self.read("manifest.json.sig"))
            stated = ManifestNote.parse(note.text)
            self.export_id = stated.export_id
            names = sorted({s.name for s in note.signatures})
            keys = [k for n in names for k in self.trust.keys_for(n, EXPORT)]
            signed_by = itg.verify_note(note, keys)
            self.manifest_pinned = self.trust.pinned and bool(signed_by)
            for k in signed_by:
                chk.note(f"manifest.json.sig signed by {k.name}+{k.key_id.hex()}, fingerprint "
                         f"{fingerprint(k.public_key)}")  # fmt: skip
            digest = hashlib.sha256(self.read("manifest.json")).hexdigest()
            if digest != stated.sha256:
                chk.fail(f"manifest.json was replaced or edited: its SHA-256 is {digest}, the signed note says "
                         f"{stated.sha256}")  # fmt: skip
        except itg.SignatureError as exc:
            chk.fail(f"manifest.json.sig is not signed by a trusted key: {exc}")
        except (KeyError, OSError, FormatError, itg.IntegrityError) as exc:
            chk.fail(f"manifest.json.sig: {exc}")
        chk.note(self.trust.describe())
        self.checks.append(chk.build())

    def parse_manifest(self) -> None:
        chk = CheckBuilder("manifest")
        try:
            m = parse_strict(self.read("manifest.json"), "manifest.json")
            if m.get("format") != FORMAT:
                raise FormatError(f"manifest.json: format {m.get('format')!r}, this verifier reads {FORMAT}")
            if self.export_id is not None and m.get("export_id") != self.export_id:
                chk.fail(f"manifest.json is about export {m.get('export_id')!r}, the signed note about "
                         f"{self.export_id!r}")  # fmt: skip
            for key in ("case", "range", "cameras", "files", "custody", "tolerance_us"):
                if key not in m:
                    raise FormatError(f"manifest.json: member {key!r} is missing")
            self.manifest = m
            case, rng = m["case"], m["range"]
            chk.note(f"case {case.get('id')}; legal basis: {case.get('legal_basis')}")
            chk.note(f"requested range {rng.get('start')} .. {rng.get('end')}; {len(m['cameras'])} camera(s); "
                     f"created {m.get('created_at')}")  # fmt: skip
        except (KeyError, OSError, FormatError, AttributeError, TypeError) as exc:
            chk.fail(str(exc))
        self.checks.append(chk.build())

    def files(self) -> None:
        chk = CheckBuilder("file hashes")
        listed: dict[str, tuple[str, int]] = {}
        try:
            for f in (self.manifest or {})["files"]:
                path, digest, size = str(f["path"]), str(f["sha256"]), int(f["size"])
                if path in listed or path in SIGNED:
                    chk.fail(f"{path} is listed twice or names a signature file")
                listed[path] = (digest, size)
        except (KeyError, TypeError, ValueError) as exc:
            chk.fail(f"the manifest's file list is malformed: {exc!r}")
        present = [p for p in sorted(listed) if p in self.names]
        total = sum(self.src.size(p) for p in present)

        def tick(n: int) -> None:
            self.hashed += n
            if self.progress is not None:
                self.progress(self.hashed, total)

        for path in present:
            try:
                self.actual[path] = hash_member(self.src, path, tick)
            except OSError as exc:
                chk.fail(f"{path} cannot be read: {exc}")
        for path, (digest, size) in sorted(listed.items()):
            got = self.actual.get(path)
            if path not in self.names:
                chk.fail(f"{path} is listed in the manifest but missing from the package")
            elif got is not None and got != (digest, size):
                chk.fail(f"{path}: SHA-256 {got[0]} ({got[1]} bytes) differs from the manifest's {digest} "
                         f"({size} bytes)")  # fmt: skip
        for extra in sorted(self.names - set(listed) - set(SIGNED)):
            chk.fail(f"{extra} is in the package but not in the signed manifest (added after signing)")
        chk.note(f"{len(self.actual)} of {len(listed)} listed files hashed, {self.hashed} bytes")
        self.checks.append(chk.build())

    def cameras(self, tolerance_us: int | None) -> None:
        m = self.manifest or {}
        try:
            t_from = itg.parse_time(m["range"]["start"], "manifest range start")
            t_to = itg.parse_time(m["range"]["end"], "manifest range end")
            tol = int(m["tolerance_us"]) if tolerance_us is None else tolerance_us
            cams = [CameraFiles.parse(c) for c in m["cameras"]]
        except (KeyError, TypeError, ValueError, FormatError, itg.IntegrityError) as exc:
            if self.manifest is not None:
                self.checks.append(Check("cameras", (f"the manifest's range or cameras are malformed: {exc}",), ()))
            return
        if tolerance_us is not None:
            self.facts.append(f"tolerance for holes set to {tolerance_us} us on the command line (package: "
                              f"{m['tolerance_us']} us)")  # fmt: skip
        self._media_vouched(m, cams)
        for cam in cams:
            chk = CheckBuilder(f"camera {cam.camera}")
            self.facts.extend(self._camera(cam, chk, t_from, t_to, tol))
            self.checks.append(chk.build())

    def _media_vouched(self, m: dict[str, Any], cams: list[CameraFiles]) -> None:
        """Every media file is vouched for by exactly one camera's segment entry: a file of kind
        ``segment`` that no camera section names (it would stand in an outage with no entry behind
        it), or one named by two sections or under two seqs, fails; so does a camera named twice."""
        chk = CheckBuilder("media files")
        owner: dict[str, str] = {}
        seen_cams: set[str] = set()
        for cam in cams:
            if cam.camera in seen_cams:
                chk.fail(f"camera {cam.camera} has two sections in the manifest")
            seen_cams.add(cam.camera)
            for seq, path in cam.segments.items():
                where = f"camera {cam.camera} seq {seq}"
                if path in owner:
                    chk.fail(f"{path} is named by {owner[path]} and by {where}: one file, one entry")
                owner[path] = where
        media = {str(f.get("path")) for f in m.get("files", []) if isinstance(f, dict) and f.get("kind") == "segment"}
        for path in sorted(media - set(owner)):
            chk.fail(f"{path} is listed as a segment file but no camera's segment entry vouches for it")
        for path in sorted(set(owner) - media):
            chk.fail(f"{path} is named by {owner[path]} but not listed as a segment file in the manifest")
        chk.note(f"{len(owner)} segment files, each vouched for by exactly one log entry")
        self.checks.append(chk.build())

    def _camera(self, cam: CameraFiles, chk: CheckBuilder, t_from: datetime, t_to: datetime, tol: int) -> list[str]:
        return check_camera(cam, self.read, self.actual, self.trust, t_from, t_to, tol, chk, self.witnesses,
                            self.required, self.quorum, self.tsa)  # fmt: skip

    def custody(self, continued: Path | None, package_sha256: str | None) -> None:
        chk = CheckBuilder("custody log")
        m = self.manifest or {}
        try:
            spec = m["custody"]
            path, count, head = str(spec["path"]), int(spec["events"]), str(spec["head"])
            lines = split_lines(self.read(path), path)
            events = verify_chain(lines, str(m.get("export_id")))
            self.events = events
            if len(events) != count or (events[-1].hash if events else "") != head:
                chk.fail(f"the custody log has {len(events)} events with head {events[-1].hash if events else '-'}, "
                         f"the signed manifest says {count} events with head {head} (events edited, added or "
                         "removed)")  # fmt: skip
            kinds = [e.event for e in events]
            if not kinds or kinds[0] != "requested" or "built" not in kinds:
                chk.fail(f"the custody log must start with 'requested' and include 'built', it has {kinds}")
            chk.details.extend(_describe(e) for e in events)
            if kinds and kinds[0] == "requested":
                self._match_request(chk, events[0], m)
            if continued is not None:
                self._continued(chk, continued, lines, str(m.get("export_id")), package_sha256)
        except (KeyError, TypeError, ValueError, OSError, FormatError) as exc:
            chk.fail(str(exc))
        self.checks.append(chk.build())

    @staticmethod
    def _match_request(chk: CheckBuilder, ev: CustodyEvent, m: dict[str, Any]) -> None:
        """The manifest's range and cameras must be what was requested (a trimmed range is caught)."""
        want = (ev.detail.get("start"), ev.detail.get("end"), sorted(ev.detail.get("cameras") or []))
        got = (m["range"].get("start"), m["range"].get("end"), sorted(str(c.get("id")) for c in m["cameras"]))
        if want != got:
            chk.fail(f"the manifest exports {got[0]} .. {got[1]} of cameras {', '.join(got[2])}, but the custody "
                     f"log's request was {want[0]} .. {want[1]} of cameras {', '.join(want[2])} (range or cameras "
                     "changed after the request)")  # fmt: skip

    @staticmethod
    def _continued(chk: CheckBuilder, path: Path, mine: list[bytes], export_id: str,
                   package_sha256: str | None) -> None:  # fmt: skip
        lines = split_lines(path.read_bytes(), str(path))
        for i, line in enumerate(mine):
            if i >= len(lines) or lines[i] != line:
                chk.fail(f"{path}: event {i} differs from the package's custody log (not the same chain)")
                return
        events = verify_chain(lines, export_id)
        chk.note(f"{path} continues the package's custody log with {len(events) - len(mine)} event(s):")
        chk.details.extend(_describe(e) for e in events[len(mine) :])
        packaged = [e for e in events if e.event == "packaged"]
        if package_sha256 is not None and packaged:
            recorded = [str(e.detail.get("sha256")) for e in packaged]
            if package_sha256 in recorded:
                chk.note(f"this zip (SHA-256 {package_sha256}) is the package recorded by the archive")
            else:
                chk.fail(f"this zip has SHA-256 {package_sha256}, the archive recorded {', '.join(recorded)}")


def _describe(e: CustodyEvent) -> str:
    return f"#{e.seq} {custody_sentence(e)}"


def _file_sha256(path: Path, progress: Callable[[int], None]) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            progress(len(chunk))
    return h.hexdigest()


def verify_package(path: Path, *, trust: Sequence[str] = (), custody: Path | None = None,
                   tolerance_us: int | None = None, package_hash: bool = False,
                   progress: Progress | None = None, witness: Sequence[str] = (),
                   witness_quorum: int | None = None, tsa_certs: Sequence[str | Path] = ()) -> Outcome:  # fmt: skip
    """Run every check on the package at ``path`` (zip or folder); never raises for a bad
    package (that is a failed check).

    ``package_hash`` (or ``custody``) also hashes the zip file itself, to compare with the
    archive's ``packaged`` custody event. ``witness``: verifier keys of trusted witnesses, each
    of which must have cosigned every camera's checkpoint, or ``witness_quorum`` of them.
    ``tsa_certs``: PEM files of trusted time-stamping authorities (``--tsa-cert``); then every
    camera's checkpoint needs an RFC 3161 token by one of them (EXPORT-SPEC.md 7.6).

    Raises:
        FormatError: a ``--trust`` value that is neither a verifier key nor a fingerprint, or
            a ``--witness`` value that is not a witness verifier key, a quorum out of range, a
            ``--tsa-cert`` file that is missing or holds no certificate.
    """
    start = time.monotonic()
    required = parse_witnesses(witness)
    quorum = check_quorum(witness_quorum, required)
    tsa = load_tsa_certificates(tsa_certs)
    try:
        src = open_package(path)
    except FormatError as exc:
        return Outcome(str(path), (Check("package", (str(exc),), ()),), (), "not checked")
    run = _Run(src, progress, required)
    run.quorum = quorum
    run.tsa = tsa
    zip_sha: str | None = None
    try:
        if (package_hash or custody is not None) and path.is_file():
            size = path.stat().st_size
            seen = [0]

            def tick(n: int) -> None:
                seen[0] += n
                if progress is not None:
                    progress(seen[0], size)

            zip_sha = _file_sha256(path, tick)
        run.package()
        run.signature(trust)
        run.rules(2)
        run.parse_manifest()
        run.rules(3)
        run.files()
        run.cameras(tolerance_us)
        run.rules(6)
        run.custody(custody, zip_sha)
        run.rules(7)
    finally:
        src.close()
    m = run.manifest or {}
    case = m.get("case") if isinstance(m.get("case"), dict) else {}
    # VALID needs the export key pinned from outside the package (EXPORT-SPEC.md 5.4, 8): the manifest
    # (case, custody) is signed by it alone; a witness vouches for the logs it cosigned, never for that text.
    trusted = run.manifest_pinned
    tol = tolerance_us if tolerance_us is not None else m.get("tolerance_us")
    facts = readable_facts(run.facts, tol if type(tol) is int else 500_000)
    return Outcome(package=str(path), checks=tuple(run.checks), facts=tuple(facts), trust=run.trust.describe(),
                   trusted=trusted, export_id=run.export_id, case_id=(case or {}).get("id"), package_sha256=zip_sha,
                   bytes_hashed=run.hashed, seconds=time.monotonic() - start)  # fmt: skip
