"""Hold and retention actors take the one user ``Role``; the archive itself has none and is
recorded with the role ``system``, in both journals (the hold log and the signed audit trail)."""

from __future__ import annotations

from archive.bootstrap.journal import TrailJournal
from archive.identity.model import Role
from archive.retention.audit import SYSTEM, HoldActor


def test_user_roles_are_recorded_by_value() -> None:
    assert [HoldActor("u", r).role_name for r in Role] == ["admin", "investigator", "legal", "owner", "auditor"]


def test_the_scheduler_has_no_user_role_and_is_recorded_as_system() -> None:
    assert SYSTEM.role is None and (SYSTEM.name, SYSTEM.role_name) == ("retention-scheduler", "system")
    rec = TrailJournal(trail=None, now_us=lambda: 7)._record(SYSTEM, "storage.alarm", "store", {"x": 1})  # type: ignore[arg-type]
    assert (rec.actor, rec.role, rec.at_us, rec.path) == ("retention-scheduler", "system", 7, "store")
