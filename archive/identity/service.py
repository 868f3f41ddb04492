"""Users, agencies and API tokens in the catalog (Core SQL; tables of migrations 0004 and 0012).

Every method raises CatalogError when the database fails. Nothing here deletes a user or a
token: revocation sets a time, so the audit trail can always name who held what.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from archive.catalog.errors import catalog_errors
from archive.catalog.notes import ChangeNote
from archive.catalog.tables import OwnerRow
from archive.errors import (
    CatalogConflictError,
    ConflictError,
    NotFoundError,
    Problem,
    UnauthenticatedError,
    ValidationError,
)
from archive.identity.duties import OPERATOR, check_confirmation
from archive.identity.model import (
    AGENCY_ID,
    USER_ID,
    IssuedToken,
    Principal,
    Role,
    TokenView,
    UserView,
    check_membership,
)
from archive.identity.policy import Permission, require
from archive.identity.tables import AGENCY, TOKEN, USER
from archive.identity.tokens import hash_matches, new_token, parse_token, token_hash

__all__ = ["IdentityService"]

_DAY_US = 86_400 * 1_000_000
_RETRIES = 5
_OWNER = OwnerRow.__table__  # type: ignore[attr-defined]


def _now_us() -> int:
    return time.time_ns() // 1000


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


def _user(r: Any) -> UserView:
    return UserView(r.id, r.name, Role(r.role), r.agency_id, r.owner_id, int(r.created_us), _opt_int(r.disabled_us),
                    r.created_by, r.confirmed_by, _opt_int(r.confirmed_us))  # fmt: skip


def _token(r: Any) -> TokenView:
    return TokenView(r.id, r.user_id, r.label, int(r.created_us), int(r.expires_us), _opt_int(r.revoked_us),
                     r.issued_by)  # fmt: skip


class IdentityService:
    """Users, agencies and tokens. Thread-safe.

    ``cache_seconds`` > 0 keeps successful authentications that long (revocations made through
    this instance take effect at once; those made by another process within that time).
    """

    def __init__(self, engine: Engine, *, now_us: Callable[[], int] = _now_us, cache_seconds: float = 0.0) -> None:
        self._engine = engine
        self._now_us = now_us
        self._cache_us = int(cache_seconds * 1_000_000)
        self._cache: dict[str, tuple[str, Principal, int, int]] = {}
        self._lock = threading.Lock()

    def _tx(self, what: str, note: ChangeNote | None, body: Callable[[Connection], Any]) -> Any:
        """Run ``body`` in one transaction; with ``note``, ``body`` writes the change's audit entry
        in it and the entry is sealed after the commit (:mod:`archive.catalog.notes`). A lost race
        (CatalogConflictError: the audit sequence, or a row made concurrently) retries the whole
        change. Raises what ``body`` raises, CatalogError, ConflictError (too many races), and
        what :meth:`ChangeNote.committed` raises."""
        for _ in range(_RETRIES):
            try:
                with catalog_errors(what), self._engine.begin() as conn:
                    out = body(conn)
            except CatalogConflictError:
                continue
            if note is not None:
                note.committed()
            return out
        raise ConflictError(f"{what}: too many concurrent changes, try again")

    # -- agencies ------------------------------------------------------------------------
    def ensure_agency(self, agency_id: str, name: str | None = None) -> None:
        """Create the agency if it does not exist. Raises ValidationError for a bad id."""
        if not AGENCY_ID.match(agency_id):
            raise ValidationError([Problem("agency", f"{agency_id!r} is not a valid agency id (a-z, 0-9, _ and -)")])
        try:
            with catalog_errors("cannot store agency"), self._engine.begin() as conn:
                if conn.execute(select(AGENCY.c.id).where(AGENCY.c.id == agency_id)).first() is None:
                    conn.execute(insert(AGENCY).values(id=agency_id, name=name or agency_id, created_us=self._now_us()))
        except CatalogConflictError:
            return  # created concurrently

    def agencies(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every agency, by id."""
        with catalog_errors("cannot read agencies"), self._engine.connect() as conn:
            rows = conn.execute(select(AGENCY.c.id, AGENCY.c.name).order_by(AGENCY.c.id))
            return [(str(r[0]), str(r[1])) for r in rows]

    # -- users ---------------------------------------------------------------------------
    def add_user(self, user_id: str, name: str, role: Role, *, agency: str | None = None,
                 owner_id: str | None = None, created_by: str | None = None,
                 note: ChangeNote | None = None) -> UserView:  # fmt: skip
        """Create a user. The agency is created when new (in the user's transaction); the owner
        must be registered.

        ``created_by`` (the administrator acting over the API) makes the user pending until
        :meth:`confirm_user`; None is the server operator's CLI: confirmed at once. ``note``:
        the audit entry ``user.add`` commits with the user (:mod:`archive.catalog.notes`).

        Raises:
            ValidationError: bad id or name, or a membership that does not fit the role.
            NotFoundError: the owner is not registered.
            ConflictError: a user with this id exists.
            CatalogError: nothing stored (also when ``note`` cannot append); what
                :meth:`ChangeNote.committed` raises (stored, not yet sealed).
        """
        problems = [] if USER_ID.match(user_id) else [Problem("id", f"{user_id!r} is not a valid user id")]
        if not name.strip() or len(name) > 200 or not name.isprintable():
            problems.append(Problem("name", "the name must be 1-200 printable characters"))
        problems += check_membership(role, agency, owner_id)
        if agency is not None and not AGENCY_ID.match(agency):
            problems.append(Problem("agency", f"{agency!r} is not a valid agency id (a-z, 0-9, _ and -)"))
        if problems:
            raise ValidationError(problems)
        now = self._now_us()
        confirmed_by, confirmed_us = (OPERATOR, now) if created_by is None else (None, None)

        def body(conn: Connection) -> None:
            owner = select(_OWNER.c.id).where(_OWNER.c.id == owner_id)
            if owner_id is not None and conn.execute(owner).first() is None:
                raise NotFoundError(f"owner {owner_id!r} is not registered")
            if conn.execute(select(USER.c.id).where(USER.c.id == user_id)).first() is not None:
                raise ConflictError(f"user {user_id!r} already exists")
            if agency is not None and conn.execute(select(AGENCY.c.id).where(AGENCY.c.id == agency)).first() is None:
                conn.execute(insert(AGENCY).values(id=agency, name=agency, created_us=now))  # with the user, or not
            conn.execute(insert(USER).values(id=user_id, name=name, role=role.value, agency_id=agency,
                                             owner_id=owner_id, created_us=now, disabled_us=None,
                                             created_by=created_by, confirmed_by=confirmed_by,
                                             confirmed_us=confirmed_us))  # fmt: skip
            if note is not None:
                note.write(conn, "user.add", f"user/{user_id}", {"user": user_id, "role": role.value,
                                                                 "agency": agency, "owner": owner_id})  # fmt: skip

        self._tx("cannot store user", note, body)
        return UserView(user_id, name, role, agency, owner_id, now, None, created_by, confirmed_by, confirmed_us)

    def users(self) -> list[UserView]:
        """Every user, by id."""
        with catalog_errors("cannot read users"), self._engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(USER).order_by(USER.c.id))]

    def user(self, user_id: str) -> UserView:
        """One user. Raises NotFoundError."""
        with catalog_errors("cannot read user"), self._engine.connect() as conn:
            row = conn.execute(select(USER).where(USER.c.id == user_id)).first()
        if row is None:
            raise NotFoundError(f"user {user_id!r} does not exist")
        return _user(row)

    def language(self, user_id: str) -> str | None:
        """The pages' language ``user_id`` chose (None: never chose). Raises NotFoundError, CatalogError."""
        with catalog_errors("cannot read the user's language"), self._engine.connect() as conn:
            row = conn.execute(select(USER.c.language).where(USER.c.id == user_id)).first()
        if row is None:
            raise NotFoundError(f"user {user_id!r} does not exist")
        return None if row[0] is None else str(row[0])

    def set_language(self, user_id: str, language: str | None) -> None:
        """Store the pages' language of ``user_id`` (None: back to the default; the pages check the
        value, :mod:`archive.web.i18n`). Raises NotFoundError, ValidationError (over 8 characters),
        CatalogError."""
        if language is not None and len(language) > 8:
            raise ValidationError([Problem("language", "at most 8 characters")])

        def body(conn: Connection) -> None:
            if conn.execute(update(USER).where(USER.c.id == user_id).values(language=language)).rowcount != 1:
                raise NotFoundError(f"user {user_id!r} does not exist")

        self._tx("cannot store the user's language", None, body)

    def confirm_user(self, user_id: str, who: Principal, note: ChangeNote | None = None) -> UserView:
        """Confirm a pending user (separation of duties, :mod:`archive.identity.duties` rule 3);
        ``note``: the entry ``user.confirm`` commits with the confirmation.

        Raises (and CatalogError, like :meth:`add_user`):
            NotFoundError: no such user. ConflictError: already confirmed, or revoked.
            ForbiddenError: ``who`` may not vouch for this user.
        """
        require(who, Permission.USERS_CONFIRM)
        user = self.user(user_id)
        if not user.active:
            raise ConflictError(f"user {user_id!r} is revoked")
        if user.confirmed:
            raise ConflictError(f"user {user_id!r} is already confirmed (by {user.confirmed_by})")
        vouching = [Role.OWNER] if user.role is Role.OWNER else [Role.INVESTIGATOR, Role.LEGAL]
        member = (USER.c.owner_id == user.owner_id) if user.role is Role.OWNER else (USER.c.agency_id == user.agency)
        stmt = select(USER.c.id).where(member & USER.c.role.in_([r.value for r in vouching]) & (USER.c.id != user_id)
                                       & USER.c.disabled_us.is_(None) & USER.c.confirmed_us.is_not(None)).limit(1)
        with catalog_errors("cannot read users"), self._engine.connect() as conn:
            has_members = conn.execute(stmt).first() is not None
        check_confirmation(who, user, group_has_members=has_members)

        def body(conn: Connection) -> None:
            done = conn.execute(update(USER).where((USER.c.id == user_id) & USER.c.confirmed_us.is_(None))
                                .values(confirmed_by=who.user_id, confirmed_us=self._now_us())).rowcount
            if done != 1:
                raise ConflictError(f"user {user_id!r} was confirmed concurrently")
            if note is not None:
                note.write(conn, "user.confirm", f"user/{user_id}", {"user": user_id, "role": user.role.value,
                                                                     "created_by": user.created_by})  # fmt: skip

        self._tx("cannot confirm user", note, body)
        with self._lock:
            self._cache.clear()
        return self.user(user_id)

    def revoke_user(self, user_id: str, note: ChangeNote | None = None) -> UserView:
        """Disable a user and revoke all their tokens (idempotent); ``note``: the entry
        ``user.revoke`` commits with it. Raises NotFoundError, CatalogError (like :meth:`add_user`)."""
        self.user(user_id)
        now = self._now_us()

        def body(conn: Connection) -> None:
            conn.execute(update(USER).where((USER.c.id == user_id) & USER.c.disabled_us.is_(None))
                         .values(disabled_us=now))  # fmt: skip
            tokens = conn.execute(update(TOKEN).where((TOKEN.c.user_id == user_id) & TOKEN.c.revoked_us.is_(None))
                                  .values(revoked_us=now)).rowcount  # fmt: skip
            if note is not None:
                note.write(conn, "user.revoke", f"user/{user_id}", {"user": user_id, "tokens_revoked": tokens})

        self._tx("cannot revoke user", note, body)
        with self._lock:
            self._cache.clear()
        return self.user(user_id)

    # -- tokens --------------------------------------------------------------------------
    def create_token(self, user_id: str, *, days: int, label: str = "", issued_by: str = OPERATOR,
                     note: ChangeNote | None = None) -> IssuedToken:  # fmt: skip
        """Issue a token valid for ``days`` days; the secret is returned once. ``issued_by``:
        the user themself (API) or :data:`OPERATOR` (server CLI; the user sees a notice).
        ``note``: the entry ``token.create`` (never the secret) commits with the token.

        Raises:
            ValidationError: ``days`` below 1 or the label too long.
            NotFoundError: no such user. ConflictError: the user is revoked.
            CatalogError: like :meth:`add_user`.
        """
        problems = [] if days >= 1 else [Problem("days", "a token must be valid for at least 1 day")]
        if len(label) > 200 or not label.isprintable():
            problems.append(Problem("label", "the label must be at most 200 printable characters"))
        if problems:
            raise ValidationError(problems)
        user = self.user(user_id)
        if not user.active:
            raise ConflictError(f"user {user_id!r} is revoked; no token can be issued")
        tok, now = new_token(), self._now_us()
        view = TokenView(tok.token_id, user_id, label, now, now + days * _DAY_US, None, issued_by[:64])

        def body(conn: Connection) -> None:
            conn.execute(insert(TOKEN).values(id=view.id, user_id=user_id, token_hash=token_hash(tok.whole),
                                              label=label, created_us=now, expires_us=view.expires_us,
                                              revoked_us=None, issued_by=view.issued_by))  # fmt: skip
            if note is not None:
                note.write(conn, "token.create", f"token/{view.id}", {"user": user_id, "token_id": view.id,
                                                                      "expires_us": view.expires_us})  # fmt: skip

        self._tx("cannot store token", note, body)
        return IssuedToken(view, tok.whole)

    def tokens(self, user_id: str | None = None) -> list[TokenView]:
        """Tokens (of one user, or all), newest first."""
        stmt = select(TOKEN.c.id, TOKEN.c.user_id, TOKEN.c.label, TOKEN.c.created_us, TOKEN.c.expires_us,
                      TOKEN.c.revoked_us, TOKEN.c.issued_by).order_by(TOKEN.c.created_us.desc())  # fmt: skip
        if user_id is not None:
            stmt = stmt.where(TOKEN.c.user_id == user_id)
        with catalog_errors("cannot read tokens"), self._engine.connect() as conn:
            return [_token(r) for r in conn.execute(stmt)]

    def revoke_token(self, token_id: str, note: ChangeNote | None = None) -> TokenView:
        """Revoke one token (idempotent); ``note``: the entry ``token.revoke`` commits with it.
        Raises NotFoundError, CatalogError (like :meth:`add_user`)."""
        now = self._now_us()

        def body(conn: Connection) -> Any:
            conn.execute(update(TOKEN).where((TOKEN.c.id == token_id) & TOKEN.c.revoked_us.is_(None))
                         .values(revoked_us=now))  # fmt: skip
            found = conn.execute(select(TOKEN).where(TOKEN.c.id == token_id)).first()
            if found is None:
                raise NotFoundError(f"token {token_id!r} does not exist")
            if note is not None:
                note.write(conn, "token.revoke", f"token/{token_id}", {"user": found.user_id, "token_id": token_id})
            return found

        row = self._tx("cannot revoke token", note, body)
        with self._lock:
            self._cache.pop(token_id, None)
        return _token(row)

    # -- authentication ------------------------------------------------------------------
    def cached(self, presented: str) -> Principal | None:
        """The principal of a token checked less than ``cache_seconds`` ago, else None (no I/O:
        safe to call from an event loop)."""
        if self._cache_us <= 0:
            return None
        tok = parse_token(presented)
        if tok is None:
            return None
        now = self._now_us()
        with self._lock:
            hit = self._cache.get(tok.token_id)
        if hit is not None and now - hit[3] < self._cache_us and now < hit[2] and hash_matches(tok.whole, hit[0]):
            return hit[1]
        return None

    def authenticate(self, presented: str) -> Principal:
        """The principal of a presented token.

        Raises:
            UnauthenticatedError: malformed, unknown, revoked or expired token, or revoked user
                (the message says which; it never echoes the token).
        """
        tok = parse_token(presented)
        if tok is None:
            raise UnauthenticatedError("malformed token (expected arc1_<id>_<secret>)")
        now = self._now_us()
        with self._lock:
            hit = self._cache.get(tok.token_id)
        if hit is not None and now - hit[3] < self._cache_us and now < hit[2] and hash_matches(tok.whole, hit[0]):
            return hit[1]
        stmt = (
            select(TOKEN.c.token_hash, TOKEN.c.expires_us, TOKEN.c.revoked_us, USER.c.id, USER.c.name, USER.c.role,
                   USER.c.agency_id, USER.c.owner_id, USER.c.disabled_us, USER.c.confirmed_us)
            .select_from(TOKEN.join(USER, USER.c.id == TOKEN.c.user_id))
            .where(TOKEN.c.id == tok.token_id)
        )  # fmt: skip
        with catalog_errors("cannot read tokens"), self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None or not hash_matches(tok.whole, row.token_hash):
            raise UnauthenticatedError("unknown token")
        if row.revoked_us is not None:
            raise UnauthenticatedError("token revoked")
        if row.disabled_us is not None:
            raise UnauthenticatedError("user revoked")
        if now >= row.expires_us:
            raise UnauthenticatedError("token expired")
        principal = Principal(row.id, row.name, Role(row.role), row.agency_id, row.owner_id, tok.token_id,
                              confirmed=row.confirmed_us is not None)
        if self._cache_us > 0:
            with self._lock:
                self._cache[tok.token_id] = (row.token_hash, principal, int(row.expires_us), now)
        return principal
