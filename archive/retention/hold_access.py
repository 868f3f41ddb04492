"""Who sees and who releases a legal hold (need to know, least privilege; issue 14 items 3, 4).

A hold belongs to the agency (or camera owner) that placed it (``Hold.agency``/``owner_id``).

Seeing (:func:`disclosure`):

- **admin, auditor**: every hold, in full.
- **investigator, legal**: the holds of their own agency, in full, with only the cameras their
  agency still sees (a camera whose sharing was withdrawn is left out). Other agencies' holds
  are absent: not listed, and 404 when asked for by id, exactly like a hold that does not exist.
- **owner staff**: a hold placed by their own owner in full; a hold placed by anyone else on at
  least one of their owner's cameras in the *existence* disclosure: that a hold exists on those
  cameras (id, their cameras only, range, expiry, active, when placed/released) - never the case
  id, the reason, who placed or released it, which agency, nor the other cameras. The owner
  needs to know why footage is kept; the case is the agency's. Holds on none of their cameras
  are absent.

Releasing (:func:`check_release`): an admin, or a legal user of the hold's own agency who sees
*every* camera of the hold (403 otherwise); a hold the caller may not see is 404. A hold placed
before agencies were recorded (no agency, no owner) is released by admins only. Whether the hold
belongs to an export still in its workflow is the release guard's matter
(:mod:`archive.export.hold_guard`, 409).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from archive.errors import ForbiddenError, NotFoundError
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope
from archive.retention.holds import Hold

__all__ = ["Disclosure", "HoldSight", "check_release", "disclosure"]


class Disclosure(enum.StrEnum):
    """How much of a hold a caller is shown."""

    FULL = "full"
    EXISTENCE = "existence"


@dataclass(frozen=True)
class HoldSight:
    """What one caller may see of one hold: the disclosure and the cameras shown."""

    disclosure: Disclosure
    cameras: tuple[str, ...]


def _in_scope(scope: CameraScope, hold: Hold, owners: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(c for c in hold.cameras if scope.everything or (c in owners and scope.sees(owners[c])))


def disclosure(who: Principal, hold: Hold, scope: CameraScope, owners: Mapping[str, str]) -> HoldSight | None:
    """What ``who`` (camera scope ``scope``) sees of ``hold``; None when nothing (module docstring).
    ``owners``: camera id -> owner id of the hold's cameras."""
    if who.role in (Role.ADMIN, Role.AUDITOR):
        return HoldSight(Disclosure.FULL, hold.cameras)
    if who.role is Role.OWNER:
        if who.owner_id is None:
            return None
        if hold.owner_id == who.owner_id:
            return HoldSight(Disclosure.FULL, _in_scope(scope, hold, owners))
        theirs = tuple(c for c in hold.cameras if owners.get(c) == who.owner_id)
        return HoldSight(Disclosure.EXISTENCE, theirs) if theirs else None
    if who.agency is not None and hold.agency == who.agency:
        return HoldSight(Disclosure.FULL, _in_scope(scope, hold, owners))
    return None


def check_release(who: Principal, hold: Hold, scope: CameraScope, owners: Mapping[str, str]) -> None:
    """Return None when ``who`` may release ``hold``.

    Raises:
        NotFoundError: ``who`` may not see the hold (no existence oracle).
        ForbiddenError: not an admin nor legal of the hold's agency, or a camera of the hold is
            outside the caller's scope (counted, not named).
    """
    sight = disclosure(who, hold, scope, owners)
    if sight is None:
        raise NotFoundError(f"legal hold {hold.id} not found")
    if who.role is Role.ADMIN:
        return
    if who.role is not Role.LEGAL or sight.disclosure is not Disclosure.FULL or hold.agency is None:
        raise ForbiddenError(f"legal hold {hold.id} is released only by an administrator or legal staff of the "
                             "agency that placed it")  # fmt: skip
    unseen = len(hold.cameras) - len(sight.cameras)
    if unseen:
        raise ForbiddenError(f"legal hold {hold.id} covers {unseen} camera(s) no longer shared with agency "
                             f"{who.agency}: only an administrator may release it")  # fmt: skip
