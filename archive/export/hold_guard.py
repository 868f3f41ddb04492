"""The release guard of export holds: the legal hold an export request placed is released by the
export's workflow (a refusal), never through the legal-hold API or CLI while the export is
``requested``, ``approved`` or ``building``. Once the export is built (or failed, or refused)
the hold is an ordinary hold of the requesting agency.

The hold is found by ``export_request.hold_id``, and - for the moment between placing the hold
and storing the request - by the reason the request gives the hold (``evidence export <id>:``,
:meth:`archive.export.service.ExportService.request`); a hold so marked whose export is not
stored is refused too (it stays in force: the safe side).
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, or_, select

from archive.catalog.errors import catalog_errors
from archive.errors import ConflictError
from archive.export.model import ExportStatus
from archive.export.tables import REQUEST
from archive.retention.holds import Hold, ReleaseGuard

__all__ = ["IN_WORKFLOW", "export_hold_guard"]

IN_WORKFLOW = frozenset({ExportStatus.REQUESTED, ExportStatus.APPROVED, ExportStatus.BUILDING})
_MARK = re.compile(r"^evidence export ([0-9a-f]{1,32}):")


def export_hold_guard(engine: Engine) -> ReleaseGuard:
    """A guard for :class:`archive.retention.holds.HoldService` over the export catalog."""

    def guard(hold: Hold) -> None:
        """Return None when ``hold`` may be released. Raises ConflictError naming the export, CatalogError."""
        mark = _MARK.match(hold.reason)
        cond = REQUEST.c.hold_id == hold.id
        if mark:
            cond = or_(cond, REQUEST.c.id == mark.group(1))
        with catalog_errors(f"cannot read the exports of legal hold {hold.id}"), engine.connect() as conn:
            rows = conn.execute(select(REQUEST.c.id, REQUEST.c.status).where(cond)).all()
        for export_id, status in rows:
            if ExportStatus(status) in IN_WORKFLOW:
                raise ConflictError(
                    f"legal hold {hold.id} was placed by export {export_id}, which is {status}: it is released "
                    f"only by the export's refusal (or, once the export is built, like any hold of the agency)")
        if mark and not rows:
            raise ConflictError(f"legal hold {hold.id} was placed by export {mark.group(1)}, whose request is not "
                                "stored: the hold stays in force")  # fmt: skip

    return guard
