"""Separation of duties (pure rules, no I/O): no single person reaches footage or an owner's
approval alone. README "Separation of duties" documents them for operators.

1. **Sharing a private owner's cameras is the owner's decision.** Only (confirmed) staff of
   that owner may add agencies to its sharing; an administrator may only remove agencies
   (least privilege is never a danger). A government owner's sharing is the administration's:
   administrators set it (audited, before and after).
2. **A user's token is theirs.** Over the API a user creates tokens only for themself; tokens
   for someone else are issued only on the server by its operator (``archive tokens create``,
   audited), and every token a user did not create is shown to them in ``/me`` (``notices``).
   Revoking anyone's token stays an administrator's right (it only removes power).
3. **A user created over the API is pending** until a second person confirms them; until then
   every permission but reading ``/me`` is refused. The group vouches for its own members:
   staff of an owner confirm that owner's new staff, members (investigator, legal) of an
   agency confirm that agency's new members; a second administrator - never the creator -
   confirms the first member of an owner or agency, and every new administrator or auditor.
   Users created with the server CLI (the operator's bootstrap) are confirmed at once, audited.
"""

from __future__ import annotations

from collections.abc import Iterable

from archive.errors import ForbiddenError
from archive.identity.model import Principal, Role, UserView
from archive.model import Owner, OwnerKind

__all__ = ["OPERATOR", "check_confirmation", "check_sharing_change", "check_token_for"]

OPERATOR = "operator"
"""Who acts through the server CLI (``created_by`` None, ``issued_by`` / ``confirmed_by`` this)."""

_AGENCY_ROLES = (Role.INVESTIGATOR, Role.LEGAL)


def check_sharing_change(who: Principal, owner: Owner, agencies: Iterable[str]) -> None:
    """Return None when ``who`` may set ``owner``'s sharing to ``agencies`` (rule 1).

    Raises:
        ForbiddenError: an administrator adds an agency to a private owner's sharing, or
            someone who is neither an administrator nor that owner's staff changes it.
    """
    if who.role is Role.OWNER and who.owner_id == owner.id:
        return
    if who.role is not Role.ADMIN:
        raise ForbiddenError(f"only staff of owner {owner.id} or an administrator change its sharing")
    added = sorted(set(agencies) - set(owner.agencies))
    if owner.kind is OwnerKind.PRIVATE and added:
        raise ForbiddenError(f"sharing a private owner's cameras is the owner's decision: only staff of owner "
                             f"{owner.id} may add {', '.join(added)[:200]}; an administrator may only remove "
                             f"agencies")  # fmt: skip


def check_token_for(who: Principal, user_id: str) -> None:
    """Return None when ``who`` may create a token for ``user_id`` over the API (rule 2).

    Raises:
        ForbiddenError: ``user_id`` is someone else.
    """
    if who.user_id != user_id:
        raise ForbiddenError(f"a token belongs to its user: {who.user_id} may create tokens only for themself; "
                             f"{user_id[:64]} creates their own (the server operator issues first tokens with "
                             f"'archive tokens create', which the user sees as a notice)")  # fmt: skip


def check_confirmation(who: Principal, user: UserView, *, group_has_members: bool) -> None:
    """Return None when ``who`` may confirm pending ``user`` (rule 3). ``group_has_members``:
    the user's owner (role owner) or agency (investigator, legal) has another active,
    confirmed member of a role that vouches for it.

    Raises:
        ForbiddenError: ``who`` is the user, the administrator who created them, or not of
            the group (or a second administrator) that vouches for them.
    """
    if who.user_id == user.id:
        raise ForbiddenError("nobody confirms themself")
    second_admin = who.role is Role.ADMIN and who.user_id != user.created_by
    if user.role is Role.OWNER:
        if who.role is Role.OWNER and who.owner_id == user.owner_id:
            return
        if not group_has_members and second_admin:
            return
        raise ForbiddenError(f"staff of owner {user.owner_id} confirm its new staff" if group_has_members else
                             f"owner {user.owner_id} has no staff yet: a second administrator (not "
                             f"{user.created_by}, who created {user.id}) confirms the first")  # fmt: skip
    if user.role in _AGENCY_ROLES:
        if who.role in _AGENCY_ROLES and who.agency == user.agency:
            return
        if not group_has_members and second_admin:
            return
        raise ForbiddenError(f"members of agency {user.agency} confirm its new members" if group_has_members else
                             f"agency {user.agency} has no members yet: a second administrator (not "
                             f"{user.created_by}, who created {user.id}) confirms the first")  # fmt: skip
    if second_admin:
        return
    raise ForbiddenError(f"a second administrator (not {user.created_by}, who created {user.id}) confirms a new "
                         f"{user.role.value}")  # fmt: skip
