"""``[export] witness_policy`` ("q of n", SPEC.md 7.5): before a camera's evidence is packaged, its
checkpoint is submitted to the witnesses (the ``cosign`` hook, :mod:`archive.ledger.witnessing`),
and the build is refused while fewer than ``q`` of the known witness keys have a valid
cosignature on it (the checkpoint the package carries, :func:`~archive.export.gather.packaged_note`).
"""

from __future__ import annotations

from collections.abc import Sequence

from archive.errors import ConflictError
from archive.export.gather import CameraEvidence
from archive.integrity import IntegrityError, SignedNote, VerifierKey, verify_cosignatures

__all__ = ["require_quorum"]


def require_quorum(ev: CameraEvidence, keys: Sequence[VerifierKey], quorum: int) -> int:
    """The number of distinct witnesses among ``keys`` that cosigned ``ev``'s checkpoint.

    Raises:
        ConflictError: fewer than ``quorum`` (the export can be built again once the witnesses
            have answered).
    """
    try:
        found = len(verify_cosignatures(SignedNote.parse(ev.checkpoint_note), list(keys)))
    except IntegrityError:  # packaged_note kept only lines that verify: cannot happen
        found = 0
    if found < quorum:
        why = "; ".join(ev.cosignatures_left_out) or "no witness answered yet, or none was reached"
        raise ConflictError(f"camera {ev.camera_id}: the checkpoint of size {ev.proof.tree_size} has {found} of the "
                            f"{quorum} witness cosignatures [export] witness_policy needs ({why})")  # fmt: skip
    return found
