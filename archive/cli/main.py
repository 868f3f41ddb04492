"""The ``archive`` command line. Thin: parses arguments, calls services, prints results.

Exit codes: 0 success, 1 the system failed (store down, verification failed), 2 bad input
(a sentence on stderr, never a traceback), 130 interrupted, 141 the reader of the output went
away (``archive cameras list | head -1``: silently, like other Unix tools on SIGPIPE).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from archive.cli.audit import register as register_audit
from archive.cli.backup import register as register_backup
from archive.cli.common import Handler, require_archive
from archive.cli.export import register as register_export
from archive.cli.ledger import register as register_ledger
from archive.cli.nodes import register as register_nodes
from archive.cli.registry import register as register_registry
from archive.cli.retention import register as register_retention
from archive.cli.up import register as register_up
from archive.cli.users import register as register_api
from archive.cli.witness import register as register_witness
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
    register_ledger(sub)  # keys, log, verify
    register_witness(sub)  # witness serve, keygen, cosign, add-cosignature, proof
    register_api(sub)  # users, tokens, api serve
    register_retention(sub)  # retention, holds
    register_export(sub)  # export, verify package
    register_audit(sub)  # audit verify, audit events
    register_backup(sub)  # backup create, backup restore
    register_nodes(sub)  # nodes list, nodes drain
    return p


EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a tool whose reader closed the pipe."""


def _silence_stdout() -> None:
    """Point the stdout descriptor at /dev/null, so the interpreter's last flush of what is still
    buffered cannot raise BrokenPipeError again (and print "Exception ignored ...") at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a descriptor (tests): nothing to silence
        pass


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the console script; returns the exit code (module docstring).

    A closed stdout (BrokenPipeError, for every command and ``--help``) ends it silently with 141.
    """
    out = out or sys.stdout
    try:
        try:
            code = _run(argv, out)
        finally:
            out.flush()
            if out is not sys.stdout:
                sys.stdout.flush()
    except SystemExit as exc:  # argparse: --help, usage errors; flush what it printed
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        raise exc from None
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _run(argv: Sequence[str] | None, out: TextIO) -> int:
    """Parse ``argv``, run the command, map archive errors to exit codes (module docstring)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    install_log_scrubber()  # no log line carries a credential (archive.redact)
    handler: Handler = args.handler
    try:
        cfg = load_config(args.config)
        if getattr(args, "needs_archive", True):
            require_archive(cfg)
        return handler(args, cfg, out)
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
