"""Owners and cameras in the catalog. Passwords go in and out only through a SecretBox."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from archive.catalog.errors import catalog_errors
from archive.catalog.notes import ChangeNote
from archive.catalog.tables import CameraRow, OwnerRow
from archive.errors import CatalogConflictError, ConflictError, NotFoundError
from archive.model import Camera, CameraCredentials, Owner, OwnerKind
from archive.secretbox import SecretBox


@dataclass(frozen=True)
class ImportCounts:
    """What an import changed, per kind."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class ImportReport:
    """Result of an idempotent registry import."""

    owners: ImportCounts
    cameras: ImportCounts


_T = TypeVar("_T")
_RETRIES = 5


def _now_us() -> int:
    return time.time_ns() // 1000


def _owner(row: OwnerRow) -> Owner:
    return Owner(row.id, row.name, OwnerKind(row.kind), tuple(json.loads(row.agencies)))


def _camera(row: CameraRow) -> Camera:
    return Camera(
        id=row.id, name=row.name, owner_id=row.owner_id, stream_url=row.stream_url,
        latitude=row.latitude, longitude=row.longitude, location=row.location,
        tags=tuple(json.loads(row.tags)), enabled=row.enabled, username=row.username,
        has_password=row.password_enc is not None, removed=row.removed_us is not None,
    )


class RegistryRepository:
    """Reads and writes owners and cameras. Every method raises CatalogError on database failure."""

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        self._engine = engine
        self._box = box

    def _tx(self, what: str, note: ChangeNote | None, body: Callable[[Session], _T]) -> _T:
        """``body`` in one transaction, which with ``note`` also holds the change's audit entry
        (sealed after the commit, :mod:`archive.catalog.notes`); a lost audit-sequence race
        retries it. Raises what ``body`` raises, CatalogError, ConflictError (too many races)
        and what :meth:`ChangeNote.committed` raises."""
        for _ in range(_RETRIES if note is not None else 1):
            try:
                with catalog_errors(what), Session(self._engine) as s, s.begin():
                    out = body(s)
            except CatalogConflictError:
                if note is None:
                    raise
                continue
            if note is not None:
                note.committed()
            return out
        raise ConflictError(f"{what}: too many concurrent changes, try again")

    def owners(self) -> list[Owner]:
        """All owners, by id."""
        with catalog_errors("cannot read owners"), Session(self._engine) as s:
            return [_owner(r) for r in s.exec(select(OwnerRow).order_by(col(OwnerRow.id)))]

    def cameras(self, owner_id: str | None = None, enabled_only: bool = False) -> list[Camera]:
        """Cameras, by id, optionally of one owner and/or only the enabled ones."""
        stmt = select(CameraRow).order_by(col(CameraRow.id))
        if owner_id is not None:
            stmt = stmt.where(col(CameraRow.owner_id) == owner_id)
        if enabled_only:
            stmt = stmt.where(col(CameraRow.enabled).is_(True))
        with catalog_errors("cannot read cameras"), Session(self._engine) as s:
            return [_camera(r) for r in s.exec(stmt)]

    def camera(self, camera_id: str) -> Camera:
        """One camera. Raises NotFoundError if it is not registered."""
        with catalog_errors("cannot read camera"), Session(self._engine) as s:
            row = s.get(CameraRow, camera_id)
        if row is None:
            raise NotFoundError(f"no such camera: {camera_id[:64]}")
        return _camera(row)

    def credentials(self, camera_id: str) -> CameraCredentials | None:
        """Decrypt a camera's password (None if it has none). Raises NotFoundError, SecretError."""
        with catalog_errors("cannot read camera"), Session(self._engine) as s:
            row = s.get(CameraRow, camera_id)
        if row is None:
            raise NotFoundError(f"no such camera: {camera_id[:64]}")
        if row.password_enc is None:
            return None
        return CameraCredentials(camera_id, self._box.decrypt(row.password_enc, camera_id))

    def camera_counts_by_owner(self) -> dict[str, int]:
        """Number of cameras per owner id."""
        with catalog_errors("cannot count cameras"), Session(self._engine) as s:
            rows = s.exec(select(col(CameraRow.owner_id), func.count()).group_by(col(CameraRow.owner_id)))
            return {str(o): int(n) for o, n in rows}

    def cameras_with_password(self) -> int:
        """Number of enabled cameras whose URL needs a stored password. Raises CatalogError."""
        with catalog_errors("cannot count cameras"), Session(self._engine) as s:
            query = select(func.count()).where(col(CameraRow.password_enc).is_not(None), col(CameraRow.enabled))
            return int(s.exec(query).one())

    def set_enabled(self, camera_id: str, enabled: bool, note: ChangeNote | None = None) -> Camera:
        """Enable or disable a camera (a running ``archive up`` follows within a few seconds);
        ``note``: its audit entry ``camera.enable`` / ``camera.disable`` commits with it.

        Raises:
            NotFoundError: no such camera.
            ConflictError: enabling a removed camera (re-add it with ``cameras import --force``).
            CatalogError: nothing changed (also when ``note`` cannot append).
        """
        return self._change(camera_id, enabled=enabled, remove=False, note=note)

    def remove(self, camera_id: str, note: ChangeNote | None = None) -> Camera:
        """Take a camera out of service: disabled and marked removed (``note``: its entry
        ``camera.remove`` commits with it). Nothing of its evidence, log entries or registry row
        is deleted. Raises NotFoundError, CatalogError."""
        return self._change(camera_id, enabled=False, remove=True, note=note)

    def _change(self, camera_id: str, *, enabled: bool, remove: bool, note: ChangeNote | None) -> Camera:
        def body(s: Session) -> Camera:
            row = s.get(CameraRow, camera_id)
            if row is None:
                raise NotFoundError(f"no such camera: {camera_id[:64]}")
            if enabled and row.removed_us is not None:
                raise ConflictError(f"camera {camera_id} was removed: re-add it with 'archive cameras import "
                                    "--force FILE' to record it again")  # fmt: skip
            row.enabled, row.updated_us = enabled, _now_us()
            if remove and row.removed_us is None:
                row.removed_us = row.updated_us
            s.flush()
            if note is not None:
                action = "camera.remove" if remove else "camera.enable" if enabled else "camera.disable"
                note.write(s.connection(), action, f"camera/{camera_id}", {"camera": camera_id})
            return _camera(row)

        return self._tx(f"cannot change camera {camera_id[:64]}", note, body)

    def apply(self, owners: Sequence[Owner], cameras: Sequence[tuple[Camera, str | None]], *,
              force: bool = False, note: ChangeNote | None = None) -> ImportReport:  # fmt: skip
        """Upsert owners then cameras in ONE transaction: all or nothing. A removed camera is
        re-added (in service again) only with ``force``. ``note``: the audit entry
        ``registry.change`` (which owners and cameras were created or updated, owners' sharing
        before and after) commits in the same transaction.

        Unchanged rows are not touched. Raises CatalogError (and changes nothing) on failure,
        also when ``note`` cannot append; ConflictError for a removed camera without ``force``.
        """
        return self._tx("import failed, nothing was written", note,
                        lambda s: self._apply(s, owners, cameras, force, note))  # fmt: skip

    def _apply(self, s: Session, owners: Sequence[Owner], cameras: Sequence[tuple[Camera, str | None]], force: bool,
               note: ChangeNote | None) -> ImportReport:  # fmt: skip
        oc: Counter[str] = Counter()
        cc: Counter[str] = Counter()
        now = _now_us()
        changed: dict[str, Any] = {}
        for o in owners:
            row = s.get(OwnerRow, o.id)
            agencies = json.dumps(list(o.agencies))
            if row is None:
                s.add(OwnerRow(id=o.id, name=o.name, kind=o.kind.value, agencies=agencies,
                               created_us=now, updated_us=now))
                oc["created"] += 1
                changed[f"owner/{o.id}"] = {"change": "created", "agencies": list(o.agencies)}
            elif (row.name, row.kind, row.agencies) == (o.name, o.kind.value, agencies):
                oc["unchanged"] += 1
            else:
                changed[f"owner/{o.id}"] = {"change": "updated", "agencies_before": json.loads(row.agencies),
                                            "agencies": list(o.agencies)}  # fmt: skip
                row.name, row.kind, row.agencies, row.updated_us = o.name, o.kind.value, agencies, now
                oc["updated"] += 1
        s.flush()
        for cam, password in cameras:
            what = self._upsert_camera(s, cam, password, now, force)
            cc[what] += 1
            if what != "unchanged":
                changed[f"camera/{cam.id}"] = {"change": what}
        if note is not None:  # also when nothing changed: the attempt is recorded with it
            s.flush()
            note.write(s.connection(), "registry.change", "registry", {"changed": changed})
        return ImportReport(ImportCounts(**oc), ImportCounts(**cc))

    def _upsert_camera(self, s: Session, cam: Camera, password: str | None, now: int, force: bool) -> str:
        row = s.get(CameraRow, cam.id)
        tags = json.dumps(list(cam.tags))
        if row is not None and row.removed_us is not None:
            if not force:
                raise ConflictError(f"camera {cam.id} was removed; nothing was imported: give --force to re-add it "
                                    "under the same id (its earlier evidence stays in the same log)")  # fmt: skip
            row.removed_us, row.updated_us = None, now
            readded = True
        else:
            readded = False
        if row is None:
            enc = self._box.encrypt(password, cam.id) if password is not None else None
            s.add(CameraRow(id=cam.id, name=cam.name, owner_id=cam.owner_id, stream_url=cam.stream_url,
                            username=cam.username, password_enc=enc, latitude=cam.latitude,
                            longitude=cam.longitude, location=cam.location, tags=tags, enabled=cam.enabled,
                            created_us=now, updated_us=now))
            return "created"
        old_password = self._box.decrypt(row.password_enc, cam.id) if row.password_enc else None
        same = (
            (row.name, row.owner_id, row.stream_url, row.username, row.latitude, row.longitude,
             row.location, row.tags, row.enabled)
            == (cam.name, cam.owner_id, cam.stream_url, cam.username, cam.latitude, cam.longitude,
                cam.location, tags, cam.enabled)
            and old_password == password
        )
        if same and not readded:
            return "unchanged"
        row.name, row.owner_id, row.stream_url, row.username = cam.name, cam.owner_id, cam.stream_url, cam.username
        row.latitude, row.longitude, row.location, row.tags = cam.latitude, cam.longitude, cam.location, tags
        row.enabled, row.updated_us = cam.enabled, now
        if old_password != password:
            row.password_enc = self._box.encrypt(password, cam.id) if password is not None else None
        return "updated"
