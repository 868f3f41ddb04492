"""CLI group ``archive witness``: run a witness (``serve``), make its key, cosign by hand.

``serve`` is the C2SP tlog-witness service another agency runs on its own machine with its own
key (:mod:`archive.witness`, runbook ``ops/witness.md``); it needs no archive. ``keygen`` and
``cosign`` need none either; ``add-cosignature`` and ``proof`` work on this archive's logs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from archive.cli.common import no_archive_needed
from archive.cli.ledger import key_arg, open_ledger, read_text
from archive.config import Config
from archive.errors import UserError

__all__ = ["register"]


def cmd_witness_serve(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Serve ``POST /add-checkpoint`` until SIGINT/SIGTERM (exit 0)."""
    from archive.witness.server import WitnessServer
    from archive.witness.service import WitnessService
    from archive.witness.settings import load_witness_settings
    from archive.witness.state import WitnessState

    settings = load_witness_settings(Path(args.witness_config))
    os.umask(0o077)
    state = WitnessState(settings.state_file)
    try:
        try:
            server = WitnessServer(WitnessService(settings, state), settings.host,
                                   settings.port if args.port is None else args.port)  # fmt: skip
        except OSError as exc:
            raise UserError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from exc
        stop = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        print(f"witness {settings.signer.verifier_key.encode()}", file=out)
        print(f"listening on {server.url} ({len(state.heads())} logs in {settings.state_file})", file=out)
        out.flush()
        with server:
            server.serve_forever(poll_interval=0.2)
    finally:
        state.close()
    return 0


def witness_status(cfg: Config) -> tuple[list[dict[str, object]], list[str], bool]:
    """``archive status``'s witness part: per witness a JSON object and a line, and whether one is
    unwell (not cosigning, or a log failing). Nothing when no witness is configured."""
    if not cfg.ledger.witnesses:
        return [], [], False
    from dataclasses import asdict

    from archive.catalog.db import make_engine
    from archive.errors import ArchiveError
    from archive.ledger.witnessing import describe_witness, witness_clients, witness_report

    try:
        engine = make_engine(cfg.catalog_url)
        try:
            report = witness_report(engine, witness_clients(cfg.ledger.witnesses), cfg.data_dir)
        finally:
            engine.dispose()
    except ArchiveError as exc:
        return [{"error": str(exc)}], [f"witnesses: cannot be read: {exc}"], True
    docs = [{**asdict(h), "ok": h.ok} for h in report]
    lines = [f"witness {h.label} {'ok' if h.ok else 'PROBLEM'}: {describe_witness(h)}" for h in report]
    return docs, lines, not all(h.ok for h in report)


# -- witness ----------------------------------------------------------------------------------
def cmd_witness_keygen(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Create a witness key file (0600) and print its verifier key."""
    from archive.integrity import IntegrityError
    from archive.ledger.witness import witness_keygen

    try:
        signer = witness_keygen(args.name)
    except IntegrityError as exc:
        raise UserError(f"witness name: {exc}") from exc
    path = Path(args.out or f"witness-{args.name.replace('/', '_')}.key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise UserError(f"{path} exists; not overwriting a key") from exc
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(signer.encode() + "\n")
    print(f"# private key written to {path} (keep it secret)", file=out)
    print(signer.verifier_key.encode(), file=out)
    return 0


def cmd_witness_cosign(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Standalone: verify a checkpoint (and consistency with the previous one), print a cosignature line."""
    from archive.integrity import IntegrityError, Signer
    from archive.ledger.witness import ConsistencyProof, witness_cosign

    try:
        witness = Signer.parse(read_text(args.key))
        proof = ConsistencyProof.from_json(read_text(args.proof).strip().encode()) if args.proof else None
        line = witness_cosign(
            witness, read_text(args.checkpoint), key_arg(args.log_key),
            previous=read_text(args.previous) if args.previous else None, proof=proof, timestamp=args.time,
        )  # fmt: skip
    except IntegrityError as exc:
        print(f"archive: refusing to cosign: {exc}", file=sys.stderr)
        return 1
    out.write(line)
    return 0


def cmd_witness_add(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Store a witness's cosignature line with the checkpoint it signs."""
    from archive.ledger.witness import add_cosignature

    line = read_text(args.file).strip()
    key = key_arg(args.witness_key) if args.witness_key else None
    with open_ledger(cfg) as ledger:
        cosig = add_cosignature(ledger, args.camera, args.size, line, key)
    print(f"stored cosignature by {cosig.name} at {cosig.timestamp} on size {args.size}", file=out)
    return 0


def cmd_witness_proof(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Print a consistency proof (JSON) between two sizes of a camera log."""
    from archive.ledger.witness import consistency_proof_for

    with open_ledger(cfg) as ledger:
        proof = consistency_proof_for(ledger, args.camera, args.old_size, args.new_size)
    print(proof.to_json().decode(), file=out)
    return 0


def register(sub: Any) -> None:
    """Add ``witness`` (serve, keygen, cosign, add-cosignature, proof) to the ``archive`` subparsers."""
    wit = sub.add_parser("witness", help="witness cosignatures of checkpoints")
    wit = wit.add_subparsers(dest="sub", required=True)
    kg = wit.add_parser("keygen", help="create a witness key (cosignature/v1) file and print its verifier key")
    kg.add_argument("name", help="witness key name, e.g. police.example.org/witness")
    kg.add_argument("--out", help="private key file to create (default witness-<name>.key)")
    no_archive_needed(kg).set_defaults(handler=cmd_witness_keygen)
    cs = wit.add_parser("cosign", help="standalone: verify a checkpoint and print a cosignature line")
    cs.add_argument("--key", required=True, help="witness private key file (PRIVATE+KEY+...)")
    cs.add_argument("--checkpoint", required=True, help="signed checkpoint note file ('-' for stdin)")
    cs.add_argument("--log-key", required=True, help="the log's verifier key, or a file holding it")
    cs.add_argument("--previous", help="the previous checkpoint this witness cosigned")
    cs.add_argument("--proof", help="consistency proof JSON from the previous checkpoint to this one")
    cs.add_argument("--time", type=int, help="cosignature time, POSIX seconds (default now)")
    no_archive_needed(cs).set_defaults(handler=cmd_witness_cosign)
    add = wit.add_parser("add-cosignature", help="store a witness's cosignature line with a checkpoint")
    add.add_argument("camera")
    add.add_argument("size", type=int)
    add.add_argument("file", help="file with the cosignature line ('-' for stdin)")
    add.add_argument("--witness-key", help="verify the line with this witness verifier key (or file)")
    add.set_defaults(handler=cmd_witness_add)
    pf = wit.add_parser("proof", help="print a consistency proof between two sizes of a camera log")
    pf.add_argument("camera")
    pf.add_argument("old_size", type=int)
    pf.add_argument("new_size", type=int, nargs="?", help="default: the latest checkpoint")
    pf.set_defaults(handler=cmd_witness_proof)

    sv = wit.add_parser("serve", help="run a C2SP tlog-witness (POST /add-checkpoint) with its own key and state")
    sv.add_argument("--witness-config", required=True, metavar="FILE",
                    help="the witness's TOML file: [witness] key_file, state_file, host, port; [[log]] tables")
    sv.add_argument("--port", type=int, help="listen on this port instead of the file's (0: any free port)")
    no_archive_needed(sv).set_defaults(handler=cmd_witness_serve)
