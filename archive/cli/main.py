"""The ``archive`` command line. Thin: parses arguments, calls services, prints results.

Exit codes: 0 success, 1 the system failed (store down, verification failed), 2 bad input
(a sentence on stderr, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from archive.cli.common import Handler
from archive.cli.export import register as register_export
from archive.cli.ledger import register as register_ledger
from archive.cli.registry import register as register_registry
from archive.cli.retention import register as register_retention
from archive.cli.up import register as register_up
from archive.cli.users import register as register_api
from archive.config import load_config
from archive.errors import ERRORS, UserError, ValidationError
from archive.redact import install_log_scrubber

log = logging.getLogger("archive")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; every command has --help."""
    p = argparse.ArgumentParser(prog="archive", description="Forensic CCTV recording and evidence retrieval.")
    p.add_argument("--config", help="TOML configuration file (default: $ARCHIVE_CONFIG or ./archive.toml)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    register_up(sub)  # up, record, status
    register_registry(sub)  # config, db, cameras, owners, health, simulate
    register_ledger(sub)  # keys, witness, log, verify
    register_api(sub)  # users, tokens, api serve
    register_retention(sub)  # retention, holds
    register_export(sub)  # export, verify package
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    install_log_scrubber()  # no log line carries a credential (archive.redact)
    handler: Handler = args.handler
    try:
        cfg = load_config(args.config)
        code = handler(args, cfg, out)
        out.flush()  # here, not at exit: a reader that went away (| head) is handled below
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
    except ValidationError as exc:
        for problem in exc.problems:
            print(f"archive: error: {problem}", file=sys.stderr)
        print(f"archive: {len(exc.problems)} problem(s); nothing was changed", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"archive: error: {exc}", file=sys.stderr)
        return 2
    except ERRORS as exc:
        print(f"archive: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
