"""Frozen identity values: roles, the authenticated principal, user and token views."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from archive.errors import Problem, ValidationError

USER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
"""User ids: lowercase letters, digits, ``.``, ``_``, ``-``; 1-64 characters."""
AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""Agency ids follow the owner/camera id rule of the registry."""


class Role(enum.StrEnum):
    """What a user may do (see :mod:`archive.identity.policy` for the table)."""

    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    LEGAL = "legal"
    OWNER = "owner"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user authenticated by one of their tokens.

    Exactly one of ``agency`` (every role but owner) and ``owner_id`` (role owner) is set.
    ``confirmed`` False: a user created over the API whom nobody has confirmed yet; they may
    do nothing but read ``/me`` (see :mod:`archive.identity.duties`).
    """

    user_id: str
    name: str
    role: Role
    agency: str | None
    owner_id: str | None
    token_id: str
    confirmed: bool = True

    @property
    def only_owner(self) -> str | None:
        """The owner whose cameras alone this caller may see named (owner staff), else None."""
        return self.owner_id if self.role is Role.OWNER else None


@dataclass(frozen=True)
class UserView:
    """A user as listed (never with token secrets)."""

    id: str
    name: str
    role: Role
    agency: str | None
    owner_id: str | None
    created_us: int
    disabled_us: int | None
    created_by: str | None = None
    """The administrator who created the user over the API (None: the server operator's CLI)."""
    confirmed_by: str | None = None
    confirmed_us: int | None = None

    @property
    def active(self) -> bool:
        """False once the user was revoked."""
        return self.disabled_us is None

    @property
    def confirmed(self) -> bool:
        """False while the user waits for a second person's confirmation."""
        return self.confirmed_us is not None


@dataclass(frozen=True)
class TokenView:
    """A token's public facts (id, owner, validity), never its secret or hash."""

    id: str
    user_id: str
    label: str
    created_us: int
    expires_us: int
    revoked_us: int | None
    issued_by: str | None = None
    """Who issued it: the user themself, or ``operator`` (the server CLI); None: before 0012."""


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: ``secret`` is shown once and stored only as its SHA-256."""

    token: TokenView
    secret: str

    def __repr__(self) -> str:
        return f"IssuedToken(token={self.token!r}, secret='***')"


def parse_role(value: str, where: str = "role") -> Role:
    """A role by name. Raises ValidationError naming the allowed roles."""
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError([Problem(where, f"unknown role {value!r}; one of {allowed}")]) from None


def check_membership(role: Role, agency: str | None, owner_id: str | None) -> list[Problem]:
    """Problems with a user's membership: owners' staff belong to an owner, everyone else to an agency."""
    problems: list[Problem] = []
    if role is Role.OWNER:
        if not owner_id:
            problems.append(Problem("owner", "a user with role owner must belong to a camera owner (--owner)"))
        elif not AGENCY_ID.match(owner_id):
            problems.append(Problem("owner", f"{owner_id!r} is not a valid owner id (a-z, 0-9, _ and -)"))
        if agency:
            problems.append(Problem("agency", "a user with role owner belongs to an owner, not to an agency"))
    else:
        if not agency:
            problems.append(Problem("agency", f"a user with role {role.value} must belong to an agency (--agency)"))
        elif not AGENCY_ID.match(agency):
            problems.append(Problem("agency", f"{agency!r} is not a valid agency id (a-z, 0-9, _ and -)"))
        if owner_id:
            problems.append(Problem("owner", f"a user with role {role.value} belongs to an agency, not to an owner"))
    return problems
