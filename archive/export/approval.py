"""Who must approve an export, and who may decide (pure functions, no I/O).

Each camera owner of an export is one *group*. Its rule is the owner's policy file value
``export_approval`` (``retention_policies/<owner>.toml``); an owner without a file falls back
on its kind: private owners approve their own footage (``owner``), government owners' exports
are approved by an administrator (``admin``).

- ``owner``: only that owner's staff (role ``owner`` of that owner) may approve or refuse.
- ``admin``: only an administrator.
- ``policy``: approved by the rule itself at request time (an authorized investigator's
  request suffices); recorded as a decision by ``policy``.

Any refusal refuses the whole export; it is approved when every group approved.
"""

from __future__ import annotations

from collections.abc import Sequence

from archive.export.model import ExportStatus, OwnerApproval
from archive.identity.model import Principal, Role
from archive.model import OwnerKind
from archive.retention.policy import ExportApproval, PolicySet

__all__ = ["decidable", "may_decide", "overall", "rule_for", "who_decides"]


def rule_for(owner_id: str, kind: OwnerKind | None, policies: PolicySet | None) -> ExportApproval:
    """The approval rule of ``owner_id``: its policy file's, else by owner kind."""
    if policies is not None and owner_id in policies.owners:
        return policies.export_approval(owner_id)
    return ExportApproval.OWNER if kind is OwnerKind.PRIVATE else ExportApproval.ADMIN


def may_decide(who: Principal, a: OwnerApproval) -> bool:
    """True when ``who`` may approve or refuse group ``a`` (pending or not)."""
    if a.rule is ExportApproval.OWNER:
        return who.role is Role.OWNER and who.owner_id == a.owner_id
    if a.rule is ExportApproval.ADMIN:
        return who.role is Role.ADMIN
    return False


def decidable(who: Principal, approvals: Sequence[OwnerApproval]) -> list[OwnerApproval]:
    """The pending groups ``who`` may decide."""
    return [a for a in approvals if a.pending and may_decide(who, a)]


def who_decides(a: OwnerApproval) -> str:
    """For messages: who may decide group ``a``."""
    if a.rule is ExportApproval.OWNER:
        return f"staff of owner {a.owner_id}"
    if a.rule is ExportApproval.ADMIN:
        return f"an administrator (for owner {a.owner_id})"
    return f"the policy of owner {a.owner_id}"


def overall(approvals: Sequence[OwnerApproval]) -> ExportStatus:
    """``refused`` if any group refused, ``approved`` if all approved, else ``requested``."""
    if any(a.decision == "refused" for a in approvals):
        return ExportStatus.REFUSED
    if approvals and all(a.decision == "approved" for a in approvals):
        return ExportStatus.APPROVED
    return ExportStatus.REQUESTED
