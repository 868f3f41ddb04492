"""What every command group shares: the handler type, the runtime, and the one time parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from archive.config import Config
from archive.errors import UserError
from archive.model import us_from_utc

if TYPE_CHECKING:  # the composition root is imported when a command runs: `archive --help` stays fast
    from archive.bootstrap import Runtime

__all__ = ["Handler", "cli_time", "cli_time_us", "no_archive_needed", "require_archive", "runtime"]

Handler = Callable[[argparse.Namespace, Config, TextIO], int]
"""``handler(args, cfg, out)`` -> exit code; archive errors are raised and mapped by ``archive.cli.main``."""


def require_archive(cfg: Config) -> None:
    """Refuse to run where no archive exists: the configuration came from the defaults (no
    ``--config``, no ``$ARCHIVE_CONFIG``, no ``./archive.toml``) and its data dir does not exist,
    so the command would create a new empty archive with a new signing key (and then report its
    own empty logs as unsigned). Raises UserError naming the data dir.
    """
    if cfg.from_defaults and not cfg.data_dir.is_dir():
        raise UserError(f"no archive here ({cfg.data_dir}): run 'archive init' to create one, or give --config")


def no_archive_needed(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Mark a command that runs anywhere (``simulate``, ``verify package``, ...): no archive is needed."""
    parser.set_defaults(needs_archive=False)
    return parser


def runtime(cfg: Config, **options: Any) -> Runtime:
    """The process's :class:`~archive.bootstrap.Runtime` (use it as a context manager)."""
    from archive.bootstrap import Runtime

    return Runtime(cfg, **options)


def cli_time(value: str | None, what: str) -> datetime | None:
    """An ISO 8601 / RFC 3339 time with its zone (``Z`` accepted); None for None.

    Raises UserError naming the option ``what`` for a malformed or zone-less time.
    """
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError as exc:
        raise UserError(f"{what}: not an ISO 8601 / RFC 3339 time: {value!r}") from exc
    if t.tzinfo is None:
        raise UserError(f"{what}: give a time zone (e.g. {value}Z or {value}+07:00)")
    return t


def cli_time_us(value: str | None, what: str) -> int | None:
    """:func:`cli_time` as microseconds since the epoch (UTC). Raises UserError."""
    t = cli_time(value, what)
    return None if t is None else us_from_utc(t)
