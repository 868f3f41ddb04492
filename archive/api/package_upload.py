"""Verification of an uploaded package, shared by ``POST /api/v1/exports/verify`` and the Verify page.

The body is streamed to a file under the exports folder as it arrives (never held in memory; the
size cap is the route's ``request_max_body_size``, ``[api] verify_upload_max_bytes``), verified by
the verifier of ``archive verify package`` (:func:`~archive.export.verifier.checks.verify_package`,
with the package hash), and deleted. Without pinned keys the trust root is this archive's own key
ring, never the keys the package carries. When the caller may see the package's export, the result
goes into that export's custody log.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import anyio.to_thread

from archive.errors import ForbiddenError, UserError
from archive.export.model import Actor
from archive.export.parts import Exports
from archive.export.verifier.checks import verify_package
from archive.export.verifier.formats import FormatError, fingerprint
from archive.export.verifier.outcome import Outcome
from archive.identity.model import Principal
from archive.identity.policy import Permission, require

__all__ = ["verify_upload"]


async def verify_upload(exports: Exports, who: Principal, body: AsyncIterator[bytes], *, origin: str, tool: str,
                        trust: Sequence[str] = (), witness: Sequence[str] = (),
                        quorum: int | None = None) -> tuple[Outcome, bool]:  # fmt: skip
    """(the verifier's outcome, whether it was recorded in the export's custody log).

    ``trust``: pinned fingerprints or keys (none: this archive's keys); ``witness`` / ``quorum``:
    as ``archive verify package``. Raises ForbiddenError (no verify permission), UserError (an
    empty body, a bad ``trust`` or ``witness`` value)."""
    require(who, Permission.VERIFY)
    svc = exports.service
    rings = (("export", exports.ledger.export_keys), ("camera", exports.ledger.keys))  # manifest's, logs' keys
    roots = list(trust) or [f"{purpose}={fingerprint(r.public.public_key)}" for purpose, ring in rings
                            for r in ring.records()]  # fmt: skip
    folder = svc.settings.exports_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.zip"
    try:
        size = 0
        with path.open("wb") as fh:
            async for chunk in body:  # to disk as it arrives: never the whole body in memory
                size += len(chunk)
                fh.write(chunk)
        if size == 0:
            raise UserError("send the package zip as the request body")
        try:
            outcome = await anyio.to_thread.run_sync(lambda: verify_package(path, trust=roots, witness=witness,
                                                                            witness_quorum=quorum,
                                                                            package_hash=True))  # fmt: skip
        except FormatError as exc:  # a bad trust or witness value
            raise UserError(str(exc)) from exc
        recorded = False
        if outcome.export_id is not None:
            with contextlib.suppress(UserError, ForbiddenError):
                svc.visible(who, outcome.export_id)
                await anyio.to_thread.run_sync(lambda: svc.record_verification(
                    Actor.of(who, origin), str(outcome.export_id),
                    {"valid": outcome.valid, "verdict": outcome.verdict(), "failed_step": outcome.failed_step,
                     "package_sha256": outcome.package_sha256,
                     "trust": "pinned" if trust else "this archive's keys", "witnesses_required": len(witness),
                     "tool": tool}))  # fmt: skip
                recorded = True
    finally:
        path.unlink(missing_ok=True)
    return outcome, recorded
