"""Users and tokens (admin; a token only by its own user; confirmation of pending users by the
people who vouch for them), and ``/me`` (everyone, with notices: pending confirmation, tokens
someone else issued). Token secrets are shown once, at creation. Rules:
:mod:`archive.identity.duties`."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.notes import note_of
from archive.api.render import opt_time
from archive.api.schemas import MeOut, TokenIn, TokenIssuedOut, TokenOut, TokensOut, UserIn, UserOut, UsersOut
from archive.errors import Problem, ValidationError
from archive.identity.duties import check_token_for
from archive.identity.model import Principal, TokenView, UserView, parse_role
from archive.identity.policy import ROLE_PERMISSIONS, Permission
from archive.search.times import TimeFormatter

__all__ = ["routes"]


def _user(t: TimeFormatter, u: UserView) -> UserOut:
    return UserOut(id=u.id, name=u.name, role=u.role.value, agency=u.agency, owner=u.owner_id,
                   created_at=t.utc(u.created_us), revoked_at=opt_time(t, u.disabled_us), active=u.active,
                   created_by=u.created_by, confirmed=u.confirmed, confirmed_by=u.confirmed_by,
                   confirmed_at=opt_time(t, u.confirmed_us))  # fmt: skip


def _token(t: TimeFormatter, k: TokenView) -> TokenOut:
    return TokenOut(id=k.id, user=k.user_id, label=k.label, created_at=t.utc(k.created_us),
                    expires_at=t.utc(k.expires_us), revoked_at=opt_time(t, k.revoked_us),
                    issued_by=k.issued_by)  # fmt: skip


def _notices(t: TimeFormatter, who: Principal, tokens: list[TokenView], now_us: int) -> list[str]:
    """What a user must know at login: that they are pending, and every live token of theirs that
    someone else issued (so an issued token is never silent)."""
    out = [] if who.confirmed else [f"you are pending: nothing but /me is allowed until a second person confirms "
                                    f"you (POST /api/v1/users/{who.user_id}/confirm)"]  # fmt: skip
    for k in tokens:
        if k.revoked_us is None and k.expires_us > now_us and k.issued_by != who.user_id:
            by = k.issued_by or "someone before issuers were recorded"
            out.append(f"token {k.id} was issued for you by {by} at {t.utc(k.created_us)}"
                       f"{' (the one you are using)' if k.id == who.token_id else ''}: create your own token "
                       f"(POST /api/v1/users/{who.user_id}/tokens) and have it revoked")  # fmt: skip
    return out


def routes(deps: ApiDeps) -> list[HTTPRouteHandler]:
    """The user, token and /me handlers bound to ``deps``."""
    ident, times, cfg = deps.identity, deps.settings.times, deps.settings

    @get("/me", sync_to_thread=True, opt={"permission": Permission.ME.value}, summary="Who am I, what may I do")
    def me(request: Request[Any, Any, Any]) -> MeOut:
        who = principal_of(request)
        scope = deps.search.scope(who)
        seen = "all" if scope.owner_ids is None else ",".join(sorted(scope.owner_ids)) or "none"
        perms = sorted(p.value for p, r in ROLE_PERMISSIONS.items() if who.role in r)
        if not who.confirmed:
            perms, seen = [Permission.ME.value], "none"
        notices = _notices(times, who, ident.tokens(who.user_id), time.time_ns() // 1000)
        return MeOut(user=who.user_id, name=who.name, role=who.role.value, agency=who.agency, owner=who.owner_id,
                     token=who.token_id, permissions=perms, cameras_visible=f"owners: {seen}",
                     confirmed=who.confirmed, notices=notices)  # fmt: skip

    @get("/users", sync_to_thread=True, opt={"permission": Permission.USERS_READ.value, "audit": "users.list"},
         summary="Every user")  # fmt: skip
    def list_users(request: Request[Any, Any, Any]) -> UsersOut:
        return UsersOut(items=[_user(times, u) for u in ident.users()])

    @post("/users", sync_to_thread=True, opt={"permission": Permission.USERS_WRITE.value, "audit": "users.add"},
          summary="Add a user (role, and agency or owner)")  # fmt: skip
    def add_user(request: Request[Any, Any, Any], data: JSONBody[UserIn]) -> UserOut:
        u = ident.add_user(data.id, data.name, parse_role(data.role), agency=data.agency, owner_id=data.owner,
                           created_by=principal_of(request).user_id,  # pending until someone else confirms
                           note=note_of(request, deps.audit))
        audit_detail(request, user=u.id, role=u.role.value, agency=u.agency, owner=u.owner_id, confirmed=False)
        return _user(times, u)

    @post("/users/{user_id:str}/confirm", sync_to_thread=True, status_code=200,
          opt={"permission": Permission.USERS_CONFIRM.value, "audit": "users.confirm"},
          summary="Confirm a pending user (their owner's staff, their agency's members or a second admin)")  # fmt: skip
    def confirm_user(request: Request[Any, Any, Any], user_id: FromPath[str]) -> UserOut:
        u = ident.confirm_user(user_id, principal_of(request), note_of(request, deps.audit))
        audit_detail(request, user=u.id, role=u.role.value, agency=u.agency, owner=u.owner_id,
                     created_by=u.created_by)
        return _user(times, u)

    @post("/users/{user_id:str}/revoke", sync_to_thread=True, status_code=200,
          opt={"permission": Permission.USERS_WRITE.value, "audit": "users.revoke"},
          summary="Revoke a user and all their tokens")  # fmt: skip
    def revoke_user(request: Request[Any, Any, Any], user_id: FromPath[str]) -> UserOut:
        u = ident.revoke_user(user_id, note_of(request, deps.audit))
        audit_detail(request, user=u.id)
        return _user(times, u)

    @get("/users/{user_id:str}/tokens", sync_to_thread=True,
         opt={"permission": Permission.USERS_READ.value, "audit": "tokens.list"},
         summary="A user's tokens (never their secrets)")  # fmt: skip
    def list_tokens(request: Request[Any, Any, Any], user_id: FromPath[str]) -> TokensOut:
        ident.user(user_id)
        return TokensOut(items=[_token(times, k) for k in ident.tokens(user_id)])

    @post("/users/{user_id:str}/tokens", sync_to_thread=True,
          opt={"permission": Permission.TOKENS_OWN.value, "audit": "tokens.create"},
          summary="Create a token for yourself (never for another user); the secret is shown once")  # fmt: skip
    def create_token(request: Request[Any, Any, Any], user_id: FromPath[str],
                     data: JSONBody[TokenIn]) -> TokenIssuedOut:  # fmt: skip
        who = principal_of(request)
        check_token_for(who, user_id)
        days = cfg.token_days if data.days is None else data.days
        if not 1 <= days <= cfg.token_max_days:
            raise ValidationError([Problem("days", f"between 1 and {cfg.token_max_days}")])
        issued = ident.create_token(user_id, days=days, label=data.label, issued_by=who.user_id,
                                    note=note_of(request, deps.audit))
        audit_detail(request, user=user_id, token_id=issued.token.id, days=days)
        return TokenIssuedOut(token=issued.secret, id=issued.token.id, user=user_id,
                              expires_at=times.utc(issued.token.expires_us),
                              note="shown once: it is stored only as a SHA-256 hash")  # fmt: skip

    @post("/tokens/{token_id:str}/revoke", sync_to_thread=True, status_code=200,
          opt={"permission": Permission.USERS_WRITE.value, "audit": "tokens.revoke"},
          summary="Revoke a token")  # fmt: skip
    def revoke_token(request: Request[Any, Any, Any], token_id: FromPath[str]) -> TokenOut:
        k = ident.revoke_token(token_id, note_of(request, deps.audit))
        audit_detail(request, token_id=k.id, user=k.user_id)
        return _token(times, k)

    return [me, list_users, add_user, confirm_user, revoke_user, list_tokens, create_token, revoke_token]
