"""CLI commands of the API: ``users add|list|revoke``, ``tokens create|list|revoke``, ``api serve``.

:func:`register` adds them to the ``archive`` parser. User and token changes made here are
written to the signed audit trail (from ``local``, method ``CLI``), whether they succeed or fail; a
success is sealed (covered by a published signed head, SPEC.md 7.6) before the command prints it,
a failure is recorded without a seal,
by the user of ``--token-file``/``$ARCHIVE_TOKEN`` or, without a token, by the OS user owning the
data dir as actor ``os:<login>`` (how the very first admin is created; :mod:`archive.cli.identity`).
A token's secret is printed once, when it is created.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from archive.cli.common import runtime
from archive.cli.identity import CliActor, add_operator_options, admin_operator, audited_change
from archive.config import Config

if TYPE_CHECKING:
    from archive.audit.service import AuditTrail
    from archive.identity.service import IdentityService

__all__ = ["register"]


@contextmanager
def _identity(cfg: Config) -> Iterator[tuple[IdentityService, AuditTrail]]:
    with runtime(cfg) as rt:
        yield rt.identity, rt.audit


def _acting(args: argparse.Namespace, cfg: Config, ident: IdentityService) -> CliActor:
    """Who changes users or tokens: a token's admin, or the data dir's OS owner. Raises UserError."""
    return admin_operator(args, cfg, ident, "change users or tokens")


def _when(us: int | None) -> str:
    from archive.model import utc_from_us

    return "-" if us is None else utc_from_us(us).isoformat(timespec="seconds")


def cmd_users_add(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.identity.model import parse_role

    with _identity(cfg) as (ident, trail):
        u = audited_change(
            trail,
            _acting(args, cfg, ident),
            "users.add",
            args,
            lambda note: ident.add_user(
                args.id, args.name or args.id, parse_role(args.role), agency=args.agency, owner_id=args.owner, note=note
            ),
            seal=True,
        )
    print(f"added {u.id} ({u.role.value}, {u.agency or 'owner ' + str(u.owner_id)})", file=out)
    return 0


def cmd_users_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    with _identity(cfg) as (ident, _trail):
        users = ident.users()
    if args.json:
        json.dump([{"id": u.id, "name": u.name, "role": u.role.value, "agency": u.agency, "owner": u.owner_id,
                    "active": u.active} for u in users], out, indent=2, ensure_ascii=False)  # fmt: skip
        print(file=out)
        return 0
    for u in users:
        member = u.agency or f"owner:{u.owner_id}"
        state = "active" if u.active else "revoked " + _when(u.disabled_us)
        print(f"{u.id:<20} {u.role.value:<13} {member:<20} {state}  {u.name}", file=out)
    print(f"{len(users)} users", file=out)
    return 0


def cmd_users_revoke(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    with _identity(cfg) as (ident, trail):
        u = audited_change(
            trail,
            _acting(args, cfg, ident),
            "users.revoke",
            args,
            lambda note: ident.revoke_user(args.id, note),
            seal=True,
        )
    print(f"revoked {u.id} and all their tokens", file=out)
    return 0


def cmd_tokens_create(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.errors import UserError

    days = cfg.api.token_days if args.days is None else args.days
    if not 1 <= days <= cfg.api.token_max_days:
        raise UserError(f"--days must be between 1 and {cfg.api.token_max_days} (api.token_max_days)")
    with _identity(cfg) as (ident, trail):
        issued = audited_change(
            trail,
            _acting(args, cfg, ident),
            "tokens.create",
            args,
            lambda note: ident.create_token(args.user, days=days, label=args.label, note=note),
            seal=True,
        )
    print(issued.secret, file=out)
    print(f"# token {issued.token.id} of {args.user}, expires {_when(issued.token.expires_us)}; shown once, "
          "stored only as its SHA-256", file=out)  # fmt: skip
    return 0


def cmd_tokens_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    with _identity(cfg) as (ident, _trail):
        tokens = ident.tokens(args.user)
    for k in tokens:
        state = f"revoked {_when(k.revoked_us)}" if k.revoked_us else f"expires {_when(k.expires_us)}"
        print(f"{k.id}  {k.user_id:<20} {state:<36} {k.label}", file=out)
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    with _identity(cfg) as (ident, trail):
        k = audited_change(
            trail,
            _acting(args, cfg, ident),
            "tokens.revoke",
            args,
            lambda note: ident.revoke_token(args.token_id, note),
            seal=True,
        )
    print(f"revoked token {k.id} of {k.user_id}", file=out)
    return 0


def cmd_api_serve(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    from archive.api.serve import serve
    from archive.fsmodes import secure_process
    from archive.web.mount import WORKER_FACTORY, pages_of

    secure_process(cfg.data_dir, cfg.catalog_url)  # umask 077, data dir 0700
    serve(
        cfg,
        args.host or cfg.api.host,
        args.port or cfg.api.port,
        args.workers or cfg.api.workers,
        out,
        pages=pages_of,
        worker_factory=WORKER_FACTORY,
    )
    return 0


def register(sub: Any) -> None:
    """Add ``users``, ``tokens`` and ``api`` to the ``archive`` subparsers."""
    users = sub.add_parser("users", help="API users (roles, agencies, owners)")
    users = users.add_subparsers(dest="sub", required=True)
    add = users.add_parser("add", help="add a user: every user belongs to an agency, or (role owner) to an owner")
    add.add_argument("id", help="user id (a-z, 0-9, . _ -)")
    add.add_argument("--name", help="display name (default: the id)")
    add.add_argument("--role", required=True, help="admin, investigator, legal, owner or auditor")
    add.add_argument("--agency", help="the user's agency, e.g. police (every role but owner)")
    add.add_argument("--owner", help="the camera owner whose staff the user is (role owner)")
    add_operator_options(add)
    add.set_defaults(handler=cmd_users_add)
    lst = users.add_parser("list", help="list users")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(handler=cmd_users_list)
    rev = users.add_parser("revoke", help="disable a user and revoke all their tokens")
    rev.add_argument("id")
    add_operator_options(rev)
    rev.set_defaults(handler=cmd_users_revoke)

    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(dest="sub", required=True)
    cr = tokens.add_parser("create", help="issue a token (printed once; stored as SHA-256)")
    cr.add_argument("user")
    cr.add_argument("--days", type=int, help="validity in days (default api.token_days)")
    cr.add_argument("--label", default="", help="what the token is for")
    add_operator_options(cr)
    cr.set_defaults(handler=cmd_tokens_create)
    tl = tokens.add_parser("list", help="list tokens (ids and validity, never secrets)")
    tl.add_argument("user", nargs="?", help="only this user's")
    tl.set_defaults(handler=cmd_tokens_list)
    tr = tokens.add_parser("revoke", help="revoke a token by id")
    tr.add_argument("token_id")
    add_operator_options(tr)
    tr.set_defaults(handler=cmd_tokens_revoke)

    api = sub.add_parser("api", help="the evidence API").add_subparsers(dest="sub", required=True)
    serve = api.add_parser("serve", help="serve the API (OpenAPI at /schema) until interrupted")
    serve.add_argument("--host", help="bind address (default api.host)")
    serve.add_argument("--port", type=int, help="port (default api.port)")
    serve.add_argument("--workers", type=int, help="server processes (default api.workers)")
    serve.set_defaults(handler=cmd_api_serve)
