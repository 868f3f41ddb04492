"""Command line of the package verifier (``python verify_package.py`` and ``archive verify package``).

Exit status: 0 only if every check held and the signatures chain to a key you trusted (VALID);
1 if the package does not verify (INVALID); 3 if it is internally consistent but the export key
that signed the manifest was not given (UNVERIFIED: no ``--trust export=...``, also with only
``--witness`` keys); 2 for bad usage (a ``--trust`` value that is neither ``export=KEY``,
``camera=KEY`` nor a whole verifier key, a ``--witness`` value that is not a witness key, a
missing file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .checks import Progress, verify_package
from .formats import FormatError
from .outcome import Outcome

__all__ = ["add_arguments", "main", "progress_printer", "run", "run_outcome"]


def add_arguments(p: argparse.ArgumentParser, *, package_required: bool) -> None:
    """The verifier's options (shared with ``archive verify package``)."""
    p.add_argument("package", nargs=None if package_required else "?",
                   help="the package zip, or the folder it was unpacked into")  # fmt: skip
    p.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="KEY",
        help="a key of the archive you trust, for one purpose: export=sha256:<hex> (the export key, "
        "signs the manifest) or camera=sha256:<hex> (the camera key, signs the camera logs), as "
        "'archive export key' prints them, obtained from the archive's operator (never from the "
        "package); a whole verifier key (name+id+key) counts under its own name. Repeatable. "
        "Without the export key the verdict is at best UNVERIFIED (exit 3), with --witness too",
    )
    p.add_argument("--witness", action="append", default=[], metavar="KEY",
                   help="verifier key (name+id+key, type 0x04) of a witness you trust; every camera's checkpoint "
                        "must carry a valid cosignature by it (or Q of them: --witness-quorum). It vouches for the "
                        "logs only: VALID still needs --trust export=...")  # fmt: skip
    p.add_argument("--witness-quorum", type=int, metavar="Q",
                   help="the witness policy 'Q of n': each camera's checkpoint needs valid cosignatures by at "
                        "least Q of the n --witness keys (default: all n)")  # fmt: skip
    p.add_argument("--tsa-cert", action="append", default=[], metavar="FILE",
                   help="PEM certificate(s) of an RFC 3161 time-stamping authority you trust (its own or its "
                        "issuer's), obtained from the TSA; every camera's checkpoint must then carry a token by it "
                        "(EXPORT-SPEC.md 7.6). Repeatable")  # fmt: skip
    p.add_argument("--custody", type=Path, metavar="FILE",
                   help="the continued custody log from the archive ('archive export custody ID'); it must extend "
                        "the package's, and names the package's SHA-256")  # fmt: skip
    p.add_argument("--tolerance-us", type=int, help="largest hole between recordings tolerated (default: the "
                                                    "package's, normally 500000)")  # fmt: skip
    p.add_argument("--package-hash", action="store_true", help="also print the SHA-256 of the zip file itself")
    p.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def progress_printer(err: TextIO) -> Progress:
    """A progress callback: a bar on a terminal, else a line every 10 %."""
    state = {"last": 0.0, "decile": -1}
    tty = err.isatty()

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        frac = done / total if total else 1.0
        if tty:
            if now - state["last"] < 0.2 and done < total:
                return
            state["last"] = now
            bar = "#" * int(frac * 30)
            err.write(f"\rhashing [{bar:<30}] {frac:6.1%} {done / 1e6:,.0f}/{total / 1e6:,.0f} MB")
            if done >= total:
                err.write("\n")
        else:
            decile = int(frac * 10)
            if decile > state["decile"]:
                state["decile"] = decile
                err.write(f"hashing {frac:.0%} ({done / 1e6:,.0f} of {total / 1e6:,.0f} MB)\n")
        err.flush()

    return show


def run(args: argparse.Namespace, out: TextIO, err: TextIO, default: Path | None = None) -> int:
    """Verify ``args.package`` (or ``default``) and print the result. Returns the exit status."""
    return run_outcome(args, out, err, default)[0]


def run_outcome(args: argparse.Namespace, out: TextIO, err: TextIO,
                default: Path | None = None) -> tuple[int, Outcome | None]:  # fmt: skip
    """:func:`run`, also returning the outcome (None for bad usage)."""
    target = Path(args.package) if args.package else default
    if target is None:
        err.write("verify: give the package zip or folder\n")
        return 2, None
    if not target.exists():
        err.write(f"verify: {target}: no such file or folder\n")
        return 2, None
    if args.custody is not None and not args.custody.is_file():
        err.write(f"verify: --custody {args.custody}: no such file\n")
        return 2, None
    try:
        outcome = verify_package(target, trust=args.trust, custody=args.custody, tolerance_us=args.tolerance_us,
                                 package_hash=args.package_hash, witness=args.witness,
                                 witness_quorum=args.witness_quorum, tsa_certs=args.tsa_cert,
                                 progress=None if args.quiet else progress_printer(err))  # fmt: skip
    except FormatError as exc:
        err.write(f"verify: {exc}\n")
        return 2, None
    if args.json:
        json.dump(outcome.to_dict(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        for line in outcome.lines():
            out.write(line + "\n")
    return (0 if outcome.valid else 3 if outcome.consistent else 1), outcome


def main(argv: Sequence[str] | None = None, default: Path | None = None) -> int:
    """Entry point of ``verify_package.py``; ``default`` is the package folder when none is given."""
    p = argparse.ArgumentParser(prog="verify_package.py",
                                description="Verify an archive-export/1 evidence package with no network: file "
                                            "hashes, log entries against segments, range proofs to the signed "
                                            "checkpoints, signatures, completeness of the requested range, and "
                                            "the custody log. Exit 0 only if every check holds and the "
                                            "package is signed by keys you trust (--trust export=F --trust "
                                            "camera=F).")  # fmt: skip
    add_arguments(p, package_required=False)
    return run(p.parse_args(argv), sys.stdout, sys.stderr, default)
