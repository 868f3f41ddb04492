"""Building a package: gather every camera's evidence, stream it into the zip, seal, sign.

Order of work: (1) every camera's evidence is gathered and verified first (nothing is written
if one camera's log does not prove the range); (2) static files (verifier, spec, keys, README);
(3) per camera the log files, then the segments. Segments of all cameras are fetched ahead by
worker threads (:func:`archive.export.fetch.prefetch`, bounded by ``prefetch_bytes`` in
flight), hashed once there (SHA-256 and CRC-32 as the bytes arrive); the main thread checks
each segment's SHA-256 and size against its log entry and only then writes it to the zip with
that same digest (:meth:`PackageWriter.add_verified`). A copy goes to scratch space only when
the working copy is made, and ffmpeg joins it in the background while the next camera
streams; (4) the working copies; (5) the custody log up to the ``built`` event (``seal``), the
report (HTML and PDF), the manifest and its signature; one fsync. Memory stays at about ``prefetch_bytes``
plus one segment, whatever the number of cameras or hours.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from archive.export.fetch import Prefetcher
from archive.export.gather import CameraEvidence, gather, require_quorum
from archive.export.job import BuildJob
from archive.export.manifest import CameraPaths, camera_section, manifest_bytes, sign_manifest
from archive.export.model import ExportRecord, ExportSettings
from archive.export.report import ReportInput, TimeAnchor, render_report
from archive.export.report_pdf import render_report_pdf
from archive.export.report_text import log_fingerprints
from archive.export.static import add_static
from archive.export.verifier.custody import verify_chain
from archive.export.working_copy import Still, WorkingCopy, make_still, make_working_copy
from archive.export.zipout import FileRecord, PackageWriter
from archive.integrity import IntegrityError, SignedNote, canonical_json, format_time, parse_time
from archive.ledger.service import Ledger
from archive.model import us_from_utc
from archive.storage.base import ObjectStore

log = logging.getLogger(__name__)

__all__ = ["BuildJob", "BuiltPackage", "PackageBuilder", "package_name"]

Seal = Callable[[Mapping[str, Any]], list[bytes]]
"""``seal(detail)``: record the ``built`` custody event; returns the custody log's lines."""
Tick = Callable[[int, int], None]
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def package_name(case_id: str, export_id: str) -> str:
    """``<case, filesystem-safe>_<export id>``: the zip's name (``.zip``) and its top folder."""
    return f"{_SAFE.sub('_', case_id).strip('._-')[:80] or 'case'}_{export_id}"


@dataclass(frozen=True)
class BuiltPackage:
    """A finished package on disk."""

    path: Path
    name: str
    sha256: str
    size: int
    manifest_sha256: str
    files: int
    media_bytes: int


class PackageBuilder:
    """Builds packages (see the module docstring). One instance may build many, one at a time."""

    def __init__(self, ledger: Ledger, store: ObjectStore, settings: ExportSettings, *,
                 prefetch_bytes: int = 64 << 20, workers: int = 4,
                 cosign: Callable[[Sequence[str]], object] | None = None,
                 recorder_state: Callable[[str], str | None] | None = None) -> None:  # fmt: skip
        """``cosign(camera ids)``: submit the cameras' latest checkpoints to the witnesses
        (:mod:`archive.export.witness_policy`). ``recorder_state(camera id)``: the running
        recorder's current state of a camera as a sentence (None: not known), written beside an
        ongoing outage; it must not raise."""
        self._ledger = ledger
        self._state = recorder_state
        self._cosign = cosign
        self._store = store
        self._settings = settings
        self._prefetch = prefetch_bytes
        self._workers = workers

    def gather(self, rec: ExportRecord) -> list[CameraEvidence]:
        """Every camera's verified evidence (up to its last logged instant when the range runs into
        an outage still going on), its checkpoint cosigned by the witnesses first (when there are
        any). Raises like :func:`archive.export.gather.gather`, and ConflictError when a checkpoint
        has fewer cosignatures than ``[export] witness_policy`` needs."""
        if self._cosign is not None:
            for cam in rec.camera_ids:
                self._ledger.checkpoint(cam)
            self._cosign(rec.camera_ids)
        out = [gather(self._ledger, cam, rec.start_us, rec.end_us, self._settings.tolerance_us,
                      self._settings.witness_keys, self._state(cam) if self._state else None)
               for cam in rec.camera_ids]  # fmt: skip
        for ev in out:
            require_quorum(ev, self._settings.witness_keys, self._settings.witness_quorum)
        return out

    def build(self, job: BuildJob, seal: Seal, progress: Tick, evidence: Sequence[CameraEvidence] | None = None,
              ffmpeg: str | None = None) -> BuiltPackage:  # fmt: skip
        """Build the package of ``job.record`` into ``<exports_dir>/<export id>/<name>.zip``.

        Raises:
            IntegrityError: a stored object differs from its log entry (nothing is kept).
            TimestampAuthorityError: ``[export] timestamp_url`` is set and its TSA gave no checked token.
            ConflictError / NotFoundError: the logs do not prove the requested range.
            StorageError, CatalogError, SecretError, OSError (disk): the build failed; the
            partial file is deleted.
        """
        rec = job.record
        evidence = list(evidence) if evidence is not None else self.gather(rec)
        name = package_name(rec.case_id, rec.id)
        folder = self._settings.exports_dir / rec.id
        scratch = folder / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True, exist_ok=True)
        media = sum(ev.media_bytes for ev in evidence)
        total = media * (2 if ffmpeg else 1)
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            progress(done[0], total)

        writer = PackageWriter(folder / f"{name}.zip", name)
        try:
            return self._write(job, evidence, writer, scratch, seal, tick, media, ffmpeg)
        except BaseException:
            writer.abort()
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _write(self, job: BuildJob, evidence: Sequence[CameraEvidence], w: PackageWriter, scratch: Path, seal: Seal,
               tick: Callable[[int], None], media: int, ffmpeg: str | None) -> BuiltPackage:  # fmt: skip
        rec = job.record
        paths: dict[str, CameraPaths] = {}
        copies: dict[str, Future[WorkingCopy]] = {}
        stills: dict[str, Future[Still]] = {}
        refs = [r for ev in evidence for r in ev.segments]
        with Prefetcher(self._store, refs, budget=self._prefetch, workers=self._workers) as stream, \
                ThreadPoolExecutor(1, thread_name_prefix="export-ffmpeg") as ff:  # fmt: skip
            add_static(w, job, self._settings)
            for ev in evidence:
                paths[ev.camera_id] = self._camera(w, ev, stream, scratch, tick, ffmpeg, ff, copies, stills)
            working: dict[str, FileRecord] = {}
            errors: dict[str, str] = {}
            for cam, fut in copies.items():
                wc = fut.result()
                if wc.path is None:
                    errors[cam] = wc.error or "failed"
                    continue
                working[cam] = w.add_file(f"cameras/{cam}/working-copy-DERIVED.mp4", wc.path, "derived", tick=tick)
                wc.path.unlink(missing_ok=True)
            pictures: dict[str, tuple[FileRecord, int]] = {}
            for cam, sf in stills.items():
                st = sf.result()
                if st.path is None:
                    log.warning("camera %s: no still frame: %s", cam, st.error)
                    continue
                pictures[cam] = (w.add_file(f"cameras/{cam}/still-DERIVED.jpg", st.path, "derived"), st.seq)
                st.path.unlink(missing_ok=True)
        for cam, p in paths.items():
            still, still_seq = pictures.get(cam, (None, None))
            paths[cam] = replace(p, working_copy=working.get(cam), working_copy_error=errors.get(cam), still=still,
                                 still_seq=still_seq)  # fmt: skip
        evidence_digest = hashlib.sha256(canonical_json(
            {"files": [[f.path, f.sha256, f.size] for f in sorted(w.records, key=lambda f: f.path)]})).hexdigest()
        custody = seal({"package": w.root, "files": len(w.records), "media_bytes": media,
                        "evidence_sha256": evidence_digest, "cameras": list(rec.camera_ids)})  # fmt: skip
        w.add_bytes("custody.jsonl", b"".join(line + b"\n" for line in custody), "custody")
        events = verify_chain(custody, rec.id)
        created_us = us_from_utc(parse_time(events[-1].at, "custody event"))
        shown = ReportInput(rec, w.root, created_us, job.requester, job.operator, evidence, job.cameras, job.owners,
                            working, errors, list(w.records), events, job.signer, self._settings,
                            log_fingerprints(job.signer, job.keys),
                            {c: f for c, (f, _) in pictures.items()},
                            {c: TimeAnchor(p.timestamp, p.timestamp_time, p.timestamp_by or "")
                             for c, p in paths.items() if p.timestamp and p.timestamp_time})  # fmt: skip
        w.add_bytes("report.html", render_report(shown), "report")
        w.add_bytes("report.pdf", render_report_pdf(shown), "report")
        sections = [camera_section(ev, job.cameras.get(ev.camera_id),
                                   job.owners.get(job.cameras[ev.camera_id].owner_id)
                                   if ev.camera_id in job.cameras else None, paths[ev.camera_id], created_us)
                    for ev in evidence]  # fmt: skip
        data = manifest_bytes(rec=rec, package=w.root, archive_name=job.archive_name, created_us=created_us,
                              operator=job.operator, requester=job.requester, settings=self._settings,
                              signer=job.signer, cameras=sections, custody_path="custody.jsonl", custody=custody,
                              files=w.records, report_path="report.html")  # fmt: skip
        files = len(w.records)
        w.add_bytes("manifest.json", data, "manifest")
        w.add_bytes("manifest.json.sig", sign_manifest(data, rec.id, job.signer), "signature")
        sha, size = w.finish()
        return BuiltPackage(w.path, w.root, sha, size, hashlib.sha256(data).hexdigest(), files, media)

    def _camera(self, w: PackageWriter, ev: CameraEvidence, stream: Prefetcher, scratch: Path,
                tick: Callable[[int], None], ffmpeg: str | None, ff: ThreadPoolExecutor,
                copies: dict[str, Future[WorkingCopy]], stills: dict[str, Future[Still]]) -> CameraPaths:  # fmt: skip
        base = f"cameras/{ev.camera_id}"
        w.add_bytes(f"{base}/entries.jsonl", b"".join(e + b"\n" for e in ev.entries), "entries")
        w.add_bytes(f"{base}/range-proof.json", ev.proof.to_json() + b"\n", "proof")
        w.add_bytes(f"{base}/checkpoint.note", ev.checkpoint_note.encode("utf-8"), "checkpoint")
        stamp = stamp_time = stamp_by = None
        if self._settings.timestamps is not None:  # EXPORT-SPEC.md 7.6: a TSA token over the checkpoint's text
            answer, token = self._settings.timestamps.stamp(SignedNote.parse(ev.checkpoint_note).text.encode())
            stamp, stamp_time, stamp_by = f"{base}/checkpoint.tsr", format_time(token.gen_time), token.signer_subject
            w.add_bytes(stamp, answer, "timestamp")
        prunes = proofs = None
        if ev.prunes:
            prunes, proofs = f"{base}/prunes-after-range.jsonl", f"{base}/prune-inclusion-proofs.jsonl"
            w.add_bytes(prunes, b"".join(d + b"\n" for d, _ in ev.prunes), "entries")
            w.add_bytes(proofs, b"".join(p.to_json() + b"\n" for _, p in ev.prunes), "proof")
        segs: dict[int, str] = {}
        local: list[Path] = []
        cam_dir = scratch / ev.camera_id
        cam_dir.mkdir(parents=True, exist_ok=True)
        for want in ev.segments:
            ref, got = next(stream)
            if ref is not want:
                raise IntegrityError(f"segment fetched out of order: seq {ref.seq}, not {want.seq}", log=ev.origin)
            if got.sha256 != ref.sha256 or got.size != ref.size:
                raise IntegrityError(f"stored object {ref.bucket}/{ref.key} version {ref.version_id} has SHA-256 "
                                     f"{got.sha256} ({got.size} bytes), its log entry records {ref.sha256} "
                                     f"({ref.size} bytes): the store does not hold what was logged", log=ev.origin,
                                     seq=ref.seq)  # fmt: skip
            leaf = _SAFE.sub("_", PurePosixPath(ref.key).name)[-80:] or "segment"
            path = f"{base}/segments/{ref.seq:012d}_{leaf}"
            tee_path = cam_dir / f"{ref.seq:012d}{PurePosixPath(ref.key).suffix or '.ts'}"
            tee = tee_path.open("wb") if ffmpeg else None
            try:
                w.add_verified(path, got.chunks, "segment", sha256=got.sha256, crc32=got.crc32, size=got.size,
                               tee=tee, tick=tick)  # fmt: skip
            finally:
                if tee is not None:
                    tee.close()
            del got
            segs[ref.seq] = path
            local.append(tee_path)
        if ffmpeg and local:
            label = (f"DERIVED WORKING COPY of camera {ev.camera_id}, log entries {ev.first}-{ev.end - 1}: segments "
                     "joined by ffmpeg concat with stream copy; NOT EVIDENCE, the segments are")  # fmt: skip
            copies[ev.camera_id] = ff.submit(make_working_copy, ffmpeg, ev.camera_id, local,
                                             scratch / f"{ev.camera_id}.mp4", label=label)  # fmt: skip
            stills[ev.camera_id] = ff.submit(make_still, ffmpeg, ev.camera_id, ev.segments[0].seq, local[0],
                                             scratch / f"{ev.camera_id}-still.jpg")  # fmt: skip
        return CameraPaths(f"{base}/entries.jsonl", f"{base}/range-proof.json", f"{base}/checkpoint.note", segs,
                           prunes, proofs, None, None, timestamp=stamp, timestamp_time=stamp_time,
                           timestamp_by=stamp_by)  # fmt: skip
