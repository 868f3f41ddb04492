"""CLI commands of the evidence logs: ``keys``, ``log`` and ``verify`` (``witness``: :mod:`archive.cli.witness`).

:func:`register` adds them to the ``archive`` parser (``archive/cli/main.py``). Handlers get
``(args, cfg, out)`` and return an exit code; errors are raised as archive errors and mapped
by the CLI (UserError -> 2, others -> 1). ``verify`` exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from archive.cli.common import cli_time, runtime
from archive.cli.identity import add_operator_options, admin_operator, audited
from archive.config import Config
from archive.errors import UserError
from archive.model import utc_from_us

#: archive.ledger.keyring.PURPOSES, spelled here so that `archive --help` does not import the ledger
KEY_PURPOSES = ("camera", "audit", "export")

if TYPE_CHECKING:  # the heavy imports happen inside the handlers: `archive --help` stays fast
    from archive.integrity import VerifierKey
    from archive.ledger.report import VerifyReport
    from archive.ledger.service import Ledger

__all__ = ["key_arg", "open_ledger", "read_text", "register"]


@contextmanager
def open_ledger(cfg: Config) -> Iterator[Ledger]:
    """A ledger over the configured catalog, store and secret key (closed after the block)."""
    with runtime(cfg) as rt:
        yield rt.ledger


def read_text(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UserError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc


def key_arg(value: str) -> VerifierKey:
    """A verifier key given inline or as a file holding one."""
    from archive.integrity import IntegrityError
    from archive.ledger.trust import keys_from_text

    text = read_text(value).strip() if Path(value).is_file() else value
    try:
        keys = keys_from_text(text)
    except IntegrityError as exc:
        raise UserError(f"not a verifier key: {exc}") from exc
    if len(keys) != 1:
        raise UserError(f"expected one verifier key in {value}")
    return keys[0]


def _trusted(path: str | None) -> list[VerifierKey] | None:
    from archive.integrity import IntegrityError
    from archive.ledger.trust import keys_from_text

    if path is None:
        return None
    try:
        return keys_from_text(read_text(path))
    except IntegrityError as exc:
        raise UserError(f"{path}: {exc}") from exc


def _print_report(report: VerifyReport, as_json: bool, out: TextIO) -> int:
    if as_json:
        doc = {
            "ok": report.ok, "subject": report.subject,
            "failures": [{"camera": f.camera, "log": f.log, "seq": f.seq, "object": f.object, "what": f.what,
                          "message": str(f)} for f in report.failures],
            "notes": list(report.notes), "checkpoint_size": report.checkpoint_size,
            "checkpoint_root": report.checkpoint_root, "entries_checked": report.entries_checked,
            "segments_checked": report.segments_checked, "bytes_hashed": report.bytes_hashed,
            "checkpoints_checked": report.checkpoints_checked, "seconds": round(report.seconds, 3),
        }  # fmt: skip
        json.dump(doc, out, indent=2)
        print(file=out)
    else:
        for line in report.lines():
            print(line, file=out)
    return 0 if report.ok else 1


# -- keys -------------------------------------------------------------------------------------
def cmd_keys_show(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Print the signing keys (public halves) of each purpose and every log's verifier key."""
    from archive.ledger.keyring import PURPOSES

    with open_ledger(cfg) as ledger:
        active = ledger.keys.active()
        for purpose in PURPOSES:
            for k in ledger.key_ring(purpose).records():
                state = "active" if k.active else f"retired {utc_from_us(k.retired_us or 0).isoformat()}"
                print(f"# {purpose} key {k.key_id} created {utc_from_us(k.created_us).isoformat()} {state}: "
                      f"{k.verifier_key}", file=out)  # fmt: skip
        cams = [args.camera] if args.camera else [s.camera_id for s in ledger.logs()]
        print("# log verifier keys (publish these; a verifier trusts them out of band):", file=out)
        for cam in cams:
            print(active.log_key(ledger.log_id(cam)).encode(), file=out)
    return 0


def cmd_keys_rotate(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Rotate the key of ``--purpose`` (default camera): for camera, key entries in every log
    and checkpoints signed by both keys; for audit or export, a new key that signs from now."""
    with runtime(cfg) as rt:
        ledger = rt.ledger
        audit = rt.audit  # first: an older archive's audit ring is migrated (adopted) here
        ledger.key_ring(args.purpose).active()
        who = admin_operator(args, cfg, rt.identity, "rotate keys")
        old, new = audited(audit, who, "keys.rotate", args, lambda: ledger.rotate_keys(args.purpose))
        print(f"retired {old.verifier_key}\nactive  {new.verifier_key}", file=out)
        if args.purpose == "camera":
            print(f"{len(ledger.logs())} logs now carry a key entry signed by the old key", file=out)
        elif args.purpose == "audit":
            print("the audit log is signed by the new key from now; its old checkpoints keep verifying "
                  "with the retired key", file=out)  # fmt: skip
        else:
            print("new packages are signed by the new export key; publish it ('archive export key'); packages "
                  "made before carry the retired key", file=out)  # fmt: skip
    return 0


# -- log --------------------------------------------------------------------------------------
def cmd_log_checkpoint(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Print a camera's latest (or given) signed checkpoint with its witness cosignatures."""
    from archive.errors import NotFoundError

    with open_ledger(cfg) as ledger:
        view = ledger.signer.at(args.camera, args.size) if args.size is not None else ledger.signer.latest(args.camera)
    if view is None:
        raise NotFoundError(f"camera {args.camera} has no such signed checkpoint")
    out.write(view.note)
    return 0


def cmd_log_sign(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Sign checkpoints now (one camera, or every log with new entries) and submit them to the
    ``[ledger] witnesses``; exit 1 when a log was not signed or a witness did not cosign."""
    with runtime(cfg) as rt:
        witnesses = rt.witnesses
        if args.camera:
            view = rt.ledger.checkpoint(args.camera)
            print(f"{args.camera}: {'no entries' if view is None else f'signed size {view.size}'}", file=out)
            unwitnessed = witnesses.submit([args.camera]) if witnesses is not None and view is not None else {}
            failed: tuple[tuple[str, str], ...] = ()
        else:
            result = rt.checkpointer.run_once()  # submits to the witnesses after the round
            for cam in result.signed:
                print(f"{cam}: signed", file=out)
            failed = result.failed
            unwitnessed = witnesses.last_failures if witnesses is not None else {}
    for cam, why in failed:
        print(f"{cam}: NOT signed: {why}", file=out)
    for cam, why in sorted(unwitnessed.items()):
        print(f"{cam}: NOT cosigned by every witness: {why}", file=out)
    return 1 if failed or unwitnessed else 0


# -- verify -----------------------------------------------------------------------------------
def cmd_verify_camera(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Re-hash a camera's stored segments and check them against its signed log."""
    from archive.ledger.verify import verify_camera

    t_from, t_to = cli_time(args.time_from, "--from"), cli_time(args.time_to, "--to")
    if (t_from is None) != (t_to is None):
        raise UserError("give both --from and --to, or neither")
    if t_from is not None and t_to is not None and t_to <= t_from:
        raise UserError("--to must be after --from")
    with runtime(cfg) as rt:
        ledger = rt.ledger
        _known_camera(rt.registry, ledger, args.camera_id)
        report = verify_camera(ledger, args.camera_id, time_from=t_from, time_to=t_to, trusted=_trusted(args.trusted),
                               workers=args.workers, media=not args.no_media)  # fmt: skip
    return _print_report(report, args.json, out)


def _known_camera(registry: Any, ledger: Ledger, camera_id: str) -> None:
    """A camera that is registered or has an evidence log (a removed camera's log still verifies).
    Raises NotFoundError "no such camera: X" (exit 2), never a FAILED verification of nothing."""
    if not ledger.logs(camera_id):
        registry.camera(camera_id)


def cmd_verify_log(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Check every stored checkpoint of one or all camera logs for consistency."""
    from archive.ledger.verify_log import verify_logs

    with runtime(cfg) as rt:
        ledger = rt.ledger
        if args.camera_id:
            _known_camera(rt.registry, ledger, args.camera_id)
        report = verify_logs(ledger, args.camera_id, trusted=_trusted(args.trusted))
    return _print_report(report, args.json, out)


def register(sub: Any) -> None:
    """Add ``keys``, ``log`` and ``verify`` to the ``archive`` subparsers."""
    keys = sub.add_parser("keys", help="log signing keys").add_subparsers(dest="sub", required=True)
    show = keys.add_parser("show", help="print the public verifier keys (never a private key)")
    show.add_argument("--camera", help="only this camera's log key")
    show.set_defaults(handler=cmd_keys_show)
    rot = keys.add_parser("rotate", help="new signing key of one purpose (camera: every camera log gets a key "
                          "entry signed by the old one; audit: the audit log's; export: the package key)")  # fmt: skip
    rot.add_argument("--purpose", choices=KEY_PURPOSES, default="camera", help="which key (default: camera)")
    add_operator_options(rot)
    rot.set_defaults(handler=cmd_keys_rotate)

    lg = sub.add_parser("log", help="camera evidence logs").add_subparsers(dest="sub", required=True)
    ck = lg.add_parser("checkpoint", help="print a signed checkpoint (with cosignatures)")
    ck.add_argument("camera")
    ck.add_argument("--size", type=int, help="this size instead of the latest")
    ck.set_defaults(handler=cmd_log_checkpoint)
    sg = lg.add_parser("sign", help="sign checkpoints now (normally done every 60 s by the service)")
    sg.add_argument("camera", nargs="?")
    sg.set_defaults(handler=cmd_log_sign)

    ver = sub.add_parser("verify", help="verify recordings and logs").add_subparsers(dest="sub", required=True)
    vc = ver.add_parser("camera", help="re-hash a camera's segments and check them against its signed log")
    vc.add_argument("camera_id")
    vc.add_argument("--from", dest="time_from", help="window start (RFC 3339 with time zone)")
    vc.add_argument("--to", dest="time_to", help="window end (RFC 3339 with time zone)")
    vc.add_argument("--trusted", help="file of trusted log verifier keys (default: the catalog's key ring)")
    vc.add_argument("--workers", type=int, default=4, help="objects hashed in parallel (default 4)")
    vc.add_argument("--no-media", action="store_true", help="check the log only, do not re-hash media")
    vc.add_argument("--json", action="store_true", help="machine-readable report")
    vc.set_defaults(handler=cmd_verify_camera)
    vl = ver.add_parser("log", help="check consistency across all stored checkpoints of one or every camera log")
    vl.add_argument("camera_id", nargs="?")
    vl.add_argument("--trusted", help="file of trusted log verifier keys (default: the catalog's key ring)")
    vl.add_argument("--json", action="store_true", help="machine-readable report")
    vl.set_defaults(handler=cmd_verify_log)
