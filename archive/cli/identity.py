"""Who runs a CLI command: the registered user of a token, or the server's operator.

The CLI acts as the user of a token (issue 13 item 6), given as ``--token-file PATH`` (a file
holding the token, e.g. mode 0600) or ``$ARCHIVE_TOKEN``, checked by the identity service like
an API request (unknown, revoked, expired or unconfirmed: exit 2). What the command does is then
recorded in the one signed audit trail under that user, role, agency or owner and token id.
A free-text identity (``--by``, ``--role``) is refused with exit 2: nobody can act as someone else.

Bootstrapping: :func:`operator_or_user` also accepts, without a token, the OS user who owns the
archive's data dir (the server's operator, who holds the catalog anyway); it is recorded as
actor ``os:<user>`` in role admin. Only server administration takes it (users, tokens, camera
import, key rotation); evidence actions (holds, retention runs) need a token.
"""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from archive.config import ENV_TOKEN as _ENV_NAME
from archive.config import Config
from archive.errors import ERRORS, ForbiddenError, UnauthenticatedError, UserError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from archive.audit.service import AuditTrail
    from archive.catalog.notes import ChangeNote
    from archive.identity.model import Principal
    from archive.identity.service import IdentityService
    from archive.retention.audit import HoldActor

__all__ = [
    "CliActor",
    "CliNote",
    "add_identity_options",
    "add_operator_options",
    "admin_operator",
    "audited",
    "audited_change",
    "cli_principal",
    "cli_user",
    "has_identity",
    "operator_or_user",
    "record_action",
]

_T = TypeVar("_T")

_HOW = "give --token-file PATH or set $ARCHIVE_TOKEN (a token of a registered user: 'archive tokens create USER')"


@dataclass(frozen=True)
class CliActor:
    """Who acts: ``user`` (a registered user id, or ``os:<login>`` for the operator) in ``role``."""

    user: str
    role: str
    agency: str | None
    owner: str | None
    token: str | None
    command: str

    def hold_actor(self) -> HoldActor:
        """The actor as the hold and retention services take it (CLI, from ``local``)."""
        from archive.identity.model import Role
        from archive.retention.audit import HoldActor

        return HoldActor(self.user, Role(self.role), agency=self.agency, owner=self.owner, token=self.token,
                         ip="local", method="CLI", path=self.command)  # fmt: skip


def add_identity_options(p: argparse.ArgumentParser) -> None:
    """``--token-file``; ``--by`` and ``--role`` are parsed (hidden) only to be refused with a sentence."""
    p.add_argument("--token-file", metavar="PATH", help=f"act as the user of this token (default ${_ENV_NAME})")
    p.add_argument("--by", dest="free_by", help=argparse.SUPPRESS)
    p.add_argument("--role", dest="free_role", help=argparse.SUPPRESS)


def _command(args: argparse.Namespace) -> str:
    return " ".join(str(p) for p in ("archive", getattr(args, "command", ""), getattr(args, "sub", "")) if p)


def _refuse_free_text(args: argparse.Namespace) -> None:
    given = [f"--{k.removeprefix('free_')}" for k in ("free_by", "free_role", "free_as")
             if getattr(args, k, None) is not None]  # fmt: skip
    if given:
        raise UserError(f"{' and '.join(given)}: a typed name is no longer accepted (nobody may act as someone "
                        f"else): {_HOW}")  # fmt: skip


def _presented(args: argparse.Namespace) -> str | None:
    path = getattr(args, "token_file", None)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--token-file {path}: cannot read it ({exc.__class__.__name__})") from exc
        if not text:
            raise UserError(f"--token-file {path} is empty")
        return text
    return os.environ.get(_ENV_NAME, "").strip() or None


def _principal(identity: IdentityService, token: str) -> Principal:
    try:
        who = identity.authenticate(token)
    except UnauthenticatedError as exc:
        raise UserError(f"the token was refused: {exc}") from exc
    if not who.confirmed:
        raise UserError(f"user {who.user_id} is not confirmed yet; nobody may act as them until then")
    return who


def _user(identity: IdentityService, token: str, command: str) -> CliActor:
    who = _principal(identity, token)
    return CliActor(who.user_id, who.role.value, who.agency, who.owner_id, who.token_id, command)


def has_identity(args: argparse.Namespace) -> bool:
    """True when a token is presented (``--token-file`` or ``$ARCHIVE_TOKEN``); a free-text
    identity counts too, so that it is refused rather than ignored."""
    free = any(getattr(args, k, None) is not None for k in ("free_by", "free_role", "free_as"))
    return free or bool(getattr(args, "token_file", None)) or bool(os.environ.get(_ENV_NAME, "").strip())


def cli_principal(args: argparse.Namespace, identity: IdentityService) -> Principal:
    """The registered user of the presented token, as the API sees a caller. Raises UserError
    (``--by``/``--role``/``--as`` given, no token, unreadable file, or a refused token)."""
    _refuse_free_text(args)
    token = _presented(args)
    if token is None:
        raise UserError(f"say who you are: {_HOW}")
    return _principal(identity, token)


def cli_user(args: argparse.Namespace, identity: IdentityService) -> CliActor:
    """:func:`cli_principal` as a :class:`CliActor`. Raises UserError."""
    who = cli_principal(args, identity)
    return CliActor(who.user_id, who.role.value, who.agency, who.owner_id, who.token_id, _command(args))


def operator_or_user(args: argparse.Namespace, cfg: Config, identity: IdentityService) -> CliActor:
    """The token's user when a token is presented, else the server operator ``os:<login>`` (role
    admin) when this OS user owns the data dir (before it exists: the nearest folder above it).
    Raises UserError (as :func:`cli_user`, or neither)."""
    _refuse_free_text(args)
    token = _presented(args)
    if token is not None:
        return _user(identity, token, _command(args))
    uid = os.geteuid()
    where = next((p for p in (cfg.data_dir, *cfg.data_dir.parents) if p.exists()), cfg.data_dir)
    try:
        owner = where.stat().st_uid
    except OSError as exc:
        raise UserError(f"cannot read the data dir {where}: {exc.strerror}") from exc
    if owner != uid:
        raise UserError(f"only the OS user owning {cfg.data_dir} may act without a token: {_HOW}")
    try:
        login = pwd.getpwuid(uid).pw_name
    except KeyError:
        login = str(uid)
    return CliActor(f"os:{login}", "admin", None, None, None, _command(args))


def add_operator_options(p: argparse.ArgumentParser) -> None:
    """``--token-file`` for server administration (default: the data dir's OS owner); ``--by`` refused."""
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help="act as this token's admin (default $ARCHIVE_TOKEN; else the data dir's OS owner)",
    )
    p.add_argument("--by", dest="free_by", help=argparse.SUPPRESS)


def admin_operator(args: argparse.Namespace, cfg: Config, identity: IdentityService, what: str) -> CliActor:
    """:func:`operator_or_user`, who must be an admin. Raises UserError, ForbiddenError."""
    who = operator_or_user(args, cfg, identity)
    if who.role != "admin":
        raise ForbiddenError(f"only an admin may {what} ({who.user} is {who.role})")
    return who


_NOT_TARGET = frozenset({"handler", "config", "log_level", "sub", "command", "token_file", "free_by", "free_role",
                         "needs_archive"})  # fmt: skip


def audited(trail: AuditTrail, who: CliActor, action: str, args: argparse.Namespace, work: Callable[[], Any],
            *, seal: bool = True) -> Any:  # fmt: skip
    """Run ``work`` and record it in the trail by ``who`` (from ``local``, method ``CLI``), whether it
    succeeds (status 200) or fails (the error's HTTP status). ``seal``: sign and publish the head
    of a success before returning (SPEC.md 7.6); without (read-only commands), the entry is covered
    by the next signed head (the running service's checkpointer). A failure is never sealed.
    Returns what ``work`` returns; raises what it raises, or what recording raises when ``work``
    succeeded (a failed command's own error wins)."""
    from archive.api.errors import problem

    detail: dict[str, str] = {}
    status = 500
    try:
        result = work()
        status = 200
    except ERRORS as exc:
        status, detail = problem(exc)[0], {"error": str(exc)}
        raise
    finally:  # a failure is recorded without a seal: sealing it could only add a second failure
        record_action(trail, who, action, args, status, detail, seal=seal and status == 200, must=status == 200)
    return result


def audited_change(trail: AuditTrail, who: CliActor, action: str, args: argparse.Namespace,
                   work: Callable[[ChangeNote], _T], *, seal: bool) -> _T:  # fmt: skip
    """Run ``work`` with a :class:`CliNote`: the service it calls appends the entry ``action``
    (by ``who``, status 200, the service's own action as ``detail.change``) in the transaction
    of the change, so a change is never stored without its entry (SPEC.md 7.6). ``seal``: the
    note signs and publishes the head after the commit; without, the entry is covered by the
    next signed head. A failed ``work`` is recorded like :func:`audited` does. Returns what
    ``work`` returns; raises what it raises (CatalogError when the entry could not be appended:
    nothing was stored; what :meth:`AuditTrail.seal` raises when it was stored but not sealed: the
    command must not report success). A failure is recorded without a seal."""
    from archive.api.errors import problem

    note = CliNote(trail, who, action, _target(args), seal)
    try:
        return work(note)
    except ERRORS as exc:
        record_action(trail, who, action, args, problem(exc)[0], {"error": str(exc)}, seal=False, must=False)
        raise


@dataclass(frozen=True)
class CliNote:
    """A :class:`~archive.catalog.notes.ChangeNote` for one CLI command (:func:`audited_change`)."""

    trail: AuditTrail
    who: CliActor
    action: str
    target: dict[str, str]
    seal: bool

    def write(self, conn: Connection, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        """Append the command's entry inside ``conn``'s transaction. Raises like
        :meth:`AuditTrail.record_in`."""
        from archive.audit.entry import AuditRecord

        who = self.who
        self.trail.record_in(conn, AuditRecord(
            at_us=time.time_ns() // 1000, ip="local", action=self.action, method="CLI", path=who.command, status=200,
            actor=who.user, agency=who.agency, owner=who.owner, role=who.role, token=who.token,
            target={**self.target, "subject": subject}, detail={"change": action, **detail}))  # fmt: skip

    def committed(self) -> None:
        """Seal the entry when the command seals (else the next signed head covers it). Raises
        like :meth:`AuditTrail.seal`."""
        if self.seal:
            self.trail.seal()


def _target(args: argparse.Namespace) -> dict[str, str]:
    return {k: str(v) for k, v in vars(args).items() if k not in _NOT_TARGET}


def record_action(trail: AuditTrail, who: CliActor, action: str, args: argparse.Namespace, status: int,
                  detail: dict[str, str], *, seal: bool, must: bool) -> None:  # fmt: skip
    """Record one CLI action (see :func:`audited`). ``must`` False: a failure to record is logged,
    not raised (the command's own outcome is what the user must see). Raises like
    :meth:`AuditTrail.record`."""
    from archive.audit.entry import AuditRecord

    target = _target(args)
    record = AuditRecord(at_us=time.time_ns() // 1000, ip="local", action=action, method="CLI", path=who.command,
                         status=status, actor=who.user, agency=who.agency, owner=who.owner, role=who.role,
                         token=who.token, target=target, detail=detail)  # fmt: skip
    try:
        trail.record(record) if seal else trail.record_unsealed(record)
    except ERRORS as exc:
        if must:
            raise
        logging.getLogger(__name__).error("audit record of %s not stored or sealed: %s", action, exc)
