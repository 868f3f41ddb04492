"""Building an approved export: state, progress and custody around :class:`PackageBuilder`.

``approved`` (or ``failed``, to retry) -> ``building`` (custody ``build_started``, operator) ->
the builder streams the package, recording progress in the catalog at most every
``progress_interval_s``; it seals the custody log with ``built`` -> ``built`` (custody
``packaged`` with the package's SHA-256 and size). Any error -> ``failed`` (custody
``build_failed`` with the reason); nothing partial is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection

from archive.catalog.errors import catalog_errors
from archive.errors import ERRORS, ConflictError, ToolError
from archive.export import repo
from archive.export.builder import BuildJob, PackageBuilder
from archive.export.model import SYSTEM, Actor, ExportRecord, ExportStatus
from archive.export.service import ExportService
from archive.export.verifier.custody import decode_event
from archive.integrity import VerifierKey
from archive.ledger.service import Ledger

__all__ = ["ExportBuilds"]

Progress = Callable[[int, int], None]
_FAILURES: tuple[type[BaseException], ...] = (*ERRORS, OSError)


class ExportBuilds:
    """Builds exports of an :class:`ExportService` (one call builds one export, in the caller's thread).

    ``ffmpeg()`` returns the ffmpeg to make working copies with (raising ToolError when there
    is none: the package is then built without them, and says so).
    """

    def __init__(self, service: ExportService, builder: PackageBuilder, ledger: Ledger, *,
                 ffmpeg: Callable[[], str] | None = None, progress_interval_s: float = 0.5,
                 now_us: Callable[[], int] = lambda: time.time_ns() // 1000) -> None:  # fmt: skip
        self._svc = service
        self._builder = builder
        self._ledger = ledger
        self._ffmpeg = ffmpeg
        self._interval = progress_interval_s
        self._now_us = now_us

    def _job(self, rec: ExportRecord, operator: Actor) -> BuildJob:
        lines = self._svc.custody.lines(rec.id)
        origin = decode_event(lines[0]).origin if lines else "unknown"
        requester = Actor(rec.requested_by, rec.requested_name, rec.requested_role, rec.requested_agency, None, origin)
        cams = {c.id: c for c in self._svc.registry.cameras() if c.id in rec.camera_ids}
        owners = {o.id: o for o in self._svc.registry.owners()}
        # the manifest is signed by the export key, the camera logs by the camera key (SPEC 7.1)
        keys = self._ledger.export_keys
        active = keys.active()
        name = f"{self._ledger.settings.origin_prefix}/export"
        origins = [self._ledger.log_id(c) for c in rec.camera_ids]
        bundled: list[VerifierKey] = [k.log_key(name) for k in keys.records()]
        for k in self._ledger.keys.records():
            bundled += [k.log_key(n) for n in origins]
        return BuildJob(rec, cams, owners, requester, operator, self._ledger.settings.origin_prefix,
                        keys.log_signer(active.key_id, name), tuple(bundled))  # fmt: skip

    def _set(self, export_id: str, **values: Any) -> None:
        with catalog_errors(f"cannot update export {export_id}"), self._svc.engine.begin() as conn:
            repo.set_fields(conn, export_id, updated_us=self._now_us(), **values)

    def build(self, export_id: str, operator: Actor, progress: Progress | None = None, *,
              working_copy: bool | None = None) -> ExportRecord:  # fmt: skip
        """Build one export now (see the module docstring); returns the built record.

        Raises:
            NotFoundError: unknown export. ConflictError: not approved (or already building or
            built), or the logs do not prove the range. IntegrityError: stored evidence does
            not verify. StorageError, CatalogError, SecretError, OSError: the build failed.
            In every failure after the start the export is left ``failed`` with the reason.
        """
        rec = self._svc.record(export_id)
        if rec.status not in (ExportStatus.APPROVED, ExportStatus.FAILED):
            raise ConflictError(f"export {export_id} is {rec.status.value}: only an approved export (or one whose "
                                "build failed) can be built")  # fmt: skip
        now = self._now_us()

        def start(conn: Connection) -> None:
            if not repo.set_fields(conn, export_id, expect=[ExportStatus.APPROVED, ExportStatus.FAILED],
                                   status=ExportStatus.BUILDING.value, operator=operator.user, build_started_us=now,
                                   build_finished_us=None, progress_done=0, progress_total=0, error=None,
                                   updated_us=now):  # fmt: skip
                raise ConflictError(f"export {export_id} started building concurrently")

        self._svc.custody.record(export_id, "build_started", operator, {"cameras": list(rec.camera_ids)}, also=start)
        try:
            return self._run(self._svc.record(export_id), operator, progress, working_copy)
        except _FAILURES as exc:
            why = str(exc) or exc.__class__.__name__

            def failed(conn: Connection) -> None:
                repo.set_fields(conn, export_id, status=ExportStatus.FAILED.value, error=why[:4000],
                                build_finished_us=self._now_us(), updated_us=self._now_us())  # fmt: skip

            self._svc.custody.record(export_id, "build_failed", operator, {"error": why[:2000]}, also=failed)
            raise

    def interrupted(self, export_id: str) -> None:
        """Mark a build a stopped process left ``building`` as ``failed`` (custody ``build_failed``)."""

        def failed(conn: Connection) -> None:
            if not repo.set_fields(conn, export_id, expect=[ExportStatus.BUILDING], status=ExportStatus.FAILED.value,
                                   error="interrupted: the process stopped during the build",
                                   updated_us=self._now_us()):  # fmt: skip
                raise ConflictError(f"export {export_id} is no longer building")

        self._svc.custody.record(export_id, "build_failed", SYSTEM, {"error": "interrupted"}, also=failed)

    def _run(self, rec: ExportRecord, operator: Actor, progress: Progress | None,
             working_copy: bool | None) -> ExportRecord:  # fmt: skip
        job = self._job(rec, operator)
        evidence = self._builder.gather(rec)
        ffmpeg: str | None = None
        if (self._svc.settings.working_copy if working_copy is None else working_copy) and self._ffmpeg is not None:
            try:
                ffmpeg = self._ffmpeg()
            except ToolError:
                ffmpeg = None
        last = [0.0]

        def tick(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total)
            now = time.monotonic()
            if now - last[0] >= self._interval or done >= total:
                last[0] = now
                self._set(rec.id, progress_done=done, progress_total=total)

        def seal(detail: Mapping[str, Any]) -> list[bytes]:
            self._svc.custody.record(rec.id, "built", operator, detail)
            return self._svc.custody.lines(rec.id)

        built = self._builder.build(job, seal, tick, evidence=evidence, ffmpeg=ffmpeg)
        done = self._now_us()

        def finish(conn: Connection) -> None:
            repo.set_fields(conn, rec.id, status=ExportStatus.BUILT.value, package_name=built.name,
                            package_path=str(built.path), package_sha256=built.sha256, package_size=built.size,
                            manifest_sha256=built.manifest_sha256, build_finished_us=done,
                            progress_done=built.media_bytes, progress_total=built.media_bytes,
                            updated_us=done)  # fmt: skip

        self._svc.custody.record(rec.id, "packaged", operator, {
            "file": built.path.name, "sha256": built.sha256, "size": built.size,
            "manifest_sha256": built.manifest_sha256, "files": built.files}, also=finish)  # fmt: skip
        return self._svc.record(rec.id)
