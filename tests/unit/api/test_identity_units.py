"""Roles, camera scope and the token format."""

from __future__ import annotations

from archive.errors import ForbiddenError
from archive.identity.model import Principal, Role, check_membership
from archive.identity.policy import ROLE_PERMISSIONS, Permission, allowed, camera_scope, require
from archive.identity.tokens import hash_matches, new_token, parse_token, token_hash, token_id_hint

SHARING = {"dishub": ("police",), "mall": (), "kota": ("police", "satpol")}


def who(role: Role, agency: str | None = "police", owner: str | None = None) -> Principal:
    return Principal("u", "U", role, agency, owner, "0" * 16)


def test_every_permission_has_roles_and_audit_is_auditor_only() -> None:
    assert set(ROLE_PERMISSIONS) == set(Permission)
    assert ROLE_PERMISSIONS[Permission.AUDIT_READ] == {Role.AUDITOR}
    assert ROLE_PERMISSIONS[Permission.AUDIT_VERIFY] == {Role.AUDITOR}
    assert Role.ADMIN not in ROLE_PERMISSIONS[Permission.PLAYBACK]
    assert Role.AUDITOR not in ROLE_PERMISSIONS[Permission.RECORDINGS_READ]
    assert allowed(Role.INVESTIGATOR, Permission.HOLDS_CREATE)
    assert not allowed(Role.INVESTIGATOR, Permission.HOLDS_RELEASE)
    try:
        require(who(Role.OWNER, None, "mall"), Permission.USERS_WRITE)
    except ForbiddenError as exc:
        assert "owner" in str(exc) and "users.write" in str(exc)
    else:
        raise AssertionError("expected ForbiddenError")


def test_camera_scope_follows_sharing() -> None:
    assert camera_scope(who(Role.ADMIN, "diskominfo"), SHARING).everything
    assert camera_scope(who(Role.AUDITOR, "inspektorat"), SHARING).everything
    inv = camera_scope(who(Role.INVESTIGATOR), SHARING)
    assert inv.owner_ids == {"dishub", "kota"} and not inv.sees("mall")
    assert camera_scope(who(Role.LEGAL, "satpol"), SHARING).owner_ids == {"kota"}
    assert camera_scope(who(Role.INVESTIGATOR, "nobody"), SHARING).owner_ids == frozenset()
    own = camera_scope(who(Role.OWNER, None, "mall"), SHARING)
    assert own.owner_ids == {"mall"}


def test_membership_rules() -> None:
    assert check_membership(Role.OWNER, None, "mall") == []
    assert check_membership(Role.OWNER, "police", None)
    assert check_membership(Role.INVESTIGATOR, None, None)
    assert check_membership(Role.INVESTIGATOR, "Police!", None)
    assert check_membership(Role.AUDITOR, "inspektorat", None) == []


def test_token_format_and_hash() -> None:
    tok = new_token()
    assert parse_token(tok.whole) == tok
    assert tok.whole.startswith(f"arc1_{tok.token_id}_") and len(tok.whole) == 4 + 1 + 16 + 1 + 43
    assert token_id_hint(tok.whole) == tok.token_id
    h = token_hash(tok.whole)
    assert len(h) == 64 and hash_matches(tok.whole, h) and not hash_matches(tok.whole + "x", h)
    assert "***" in repr(tok) and tok.whole not in repr(tok)
    for bad in ("", "arc1_", "Bearer x", tok.whole + "x", tok.whole.upper(), "arc1_zzzzzzzzzzzzzzzz_" + "a" * 43):
        assert parse_token(bad) is None
    assert new_token().whole != new_token().whole
