"""``archive export request|approve|refuse|build|download|list|show|custody|key`` and
``archive verify package FILE`` (also ``archive verify FILE.zip``).

People act as the registered user of a token (``--token-file PATH`` or ``$ARCHIVE_TOKEN``, checked
by the identity service; a typed ``--as USER`` is refused), from
``cli:<os user>@<host>``; every step goes into the custody log and the audit trail.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from archive.cli.common import cli_time_us, no_archive_needed, require_archive, runtime
from archive.cli.identity import cli_principal, has_identity
from archive.config import Config
from archive.errors import UserError
from archive.export.verifier.main import add_arguments, progress_printer, run_outcome

if TYPE_CHECKING:
    from archive.export.model import ExportRecord
    from archive.export.parts import Exports
    from archive.identity.model import Principal

__all__ = ["register"]


@contextmanager
def _exports(cfg: Config) -> Iterator[Exports]:
    with runtime(cfg) as rt:
        yield rt.exports


def _who(ex: Exports, args: argparse.Namespace) -> Principal:
    """The registered user of the presented token (archive.cli.identity). Raises UserError."""
    from archive.identity.service import IdentityService

    return cli_principal(args, IdentityService(ex.service.engine))


def _time_us(value: str, what: str) -> int:
    t = cli_time_us(value, what)
    assert t is not None
    return t


def _print(rec: ExportRecord, ex: Exports, out: TextIO) -> None:
    s = ex.service.settings
    print(f"export {rec.id}  case {rec.case_id}  status {rec.status.value}", file=out)
    print(f"  range    {s.local_us(rec.start_us)} .. {s.local_us(rec.end_us)}", file=out)
    print(f"  cameras  {', '.join(rec.camera_ids)}   legal hold {rec.hold_id}", file=out)
    print(f"  requested by {rec.requested_name} ({rec.requested_by}, {rec.requested_role}, "
          f"{rec.requested_agency}) at {s.local_us(rec.requested_us)}", file=out)  # fmt: skip
    for a in rec.view().approvals:
        print(f"  approval {a}", file=out)
    if rec.progress is not None and rec.status.value != "built":
        print(f"  progress {rec.progress:.0%} ({rec.progress_done} of {rec.progress_total} bytes)", file=out)
    if rec.error:
        print(f"  error    {rec.error}", file=out)
    if rec.package_sha256:
        print(f"  package  {rec.package_path} ({rec.package_size} bytes)\n  SHA-256  {rec.package_sha256}", file=out)


def cmd_request(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Request an export; the legal hold is placed at once."""
    from archive.export.model import cli_origin
    from archive.export.views import ExportRequest
    from archive.search.service import SearchService

    cams = [c.strip() for v in args.camera for c in v.split(",") if c.strip()]
    req = ExportRequest(args.case, args.legal_basis, args.reason, tuple(cams), _time_us(args.time_from, "--from"),
                        _time_us(args.time_to, "--to"))  # fmt: skip
    with _exports(cfg) as ex:
        who = _who(ex, args)
        view = ex.service.request(who, SearchService(ex.service.engine).scope(who), req, origin=cli_origin())
        _print(ex.service.record(view.id), ex, out)
    return 0


def _decide(args: argparse.Namespace, cfg: Config, out: TextIO, approve: bool) -> int:
    from archive.export.model import cli_origin
    from archive.search.service import SearchService

    with _exports(cfg) as ex:
        who = _who(ex, args)
        view = ex.service.decide(who, SearchService(ex.service.engine).scope(who), args.id, approve,
                                 args.reason or "", origin=cli_origin())  # fmt: skip
        _print(ex.service.record(view.id), ex, out)
        if view.status == "approved":
            print(f"  approved: build it with 'archive export build {view.id}' (the service also builds "
                  "approved exports on its own)", file=out)  # fmt: skip
    return 0


def cmd_approve(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Approve the owner groups of an export that the user may decide."""
    return _decide(args, cfg, out, True)


def cmd_refuse(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Refuse an export (a reason is required)."""
    return _decide(args, cfg, out, False)


def cmd_withdraw(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Withdraw a request (a user of the requesting agency): its legal hold is released."""
    from archive.export.model import cli_origin

    with _exports(cfg) as ex:
        view = ex.service.withdraw(_who(ex, args), args.id, args.reason, origin=cli_origin())
        _print(ex.service.record(view.id), ex, out)
    return 0


def cmd_build(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Build an approved export in the foreground, with a progress bar on stderr."""
    from archive.export.model import Actor, cli_origin

    with _exports(cfg) as ex:
        if has_identity(args):
            operator = Actor.of(_who(ex, args), cli_origin())
        else:
            origin = cli_origin()
            operator = Actor(origin.removeprefix("cli:").split("@")[0], "command-line operator", "operator", None,
                             None, origin)  # fmt: skip
        bar = progress_printer(sys.stderr)
        rec = ex.builds.build(args.id, operator, None if args.quiet else bar,
                              working_copy=False if args.no_working_copy else None)  # fmt: skip
        _print(rec, ex, out)
    return 0


def cmd_download(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Copy the package out (its SHA-256 printed first, the copy checked against it)."""
    from archive.export.model import cli_origin

    with _exports(cfg) as ex:
        who = _who(ex, args)
        f = ex.service.package_file(who, args.id)
        print(f"SHA-256 {f.sha256}  {f.size} bytes  {f.filename}", file=out, flush=True)
        dest = Path(args.out) if args.out else Path.cwd() / f.filename
        if dest.is_dir():
            dest = dest / f.filename
        h = hashlib.sha256()
        with f.path.open("rb") as src, dest.open("wb") as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                dst.write(chunk)
        if h.hexdigest() != f.sha256:
            raise UserError(f"the copy at {dest} has SHA-256 {h.hexdigest()}, not {f.sha256}: the package file "
                            "changed on disk; do not use it")  # fmt: skip
        ex.service.record_download(who, args.id, origin=cli_origin(), first=0, last=f.size - 1, total=f.size)
        print(f"written to {dest} (SHA-256 checked)", file=out)
    return 0


def cmd_list(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """List exports (those the token's user may see; all without a token)."""
    with _exports(cfg) as ex:
        recs = ex.service.records()
        if has_identity(args):
            who = _who(ex, args)
            recs = [r for r in recs if ex.service.sees(who, r)]
        if args.json:
            json.dump([_doc(r) for r in recs], out, indent=2, ensure_ascii=False)
            print(file=out)
            return 0
        for r in recs:
            prog = f" {r.progress:.0%}" if r.status.value == "building" and r.progress is not None else ""
            print(f"{r.id}  {r.status.value:<9}{prog:>5}  {r.case_id:<24} {','.join(r.camera_ids)}", file=out)
        print(f"{len(recs)} exports", file=out)
    return 0


def _doc(r: ExportRecord) -> dict[str, Any]:
    v = r.view()
    return {"id": v.id, "case_id": v.case_id, "status": v.status, "cameras": list(v.cameras), "start_us": v.start_us,
            "end_us": v.end_us, "requested_by": v.requested_by, "approvals": list(v.approvals),
            "progress": v.progress, "package_sha256": v.package_sha256, "package_size": v.package_size,
            "error": r.error}  # fmt: skip


def cmd_show(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """One export with its custody events."""
    from archive.export.verifier.custody import decode_event

    with _exports(cfg) as ex:
        rec = ex.service.record(args.id)
        if has_identity(args) and not ex.service.sees(_who(ex, args), rec):
            raise UserError(f"export {args.id} not found")
        events = [decode_event(x) for x in ex.service.custody.lines(args.id)]
        if args.json:
            json.dump({**_doc(rec), "custody": [json.loads(e.data) for e in events]}, out, indent=2,
                      ensure_ascii=False)  # fmt: skip
            print(file=out)
            return 0
        _print(rec, ex, out)
        print("  custody:", file=out)
        for e in events:
            print(f"    #{e.seq} {e.event:<13} {e.who()}  {e.at} ({e.local})  from {e.origin}", file=out)
    return 0


def cmd_custody(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Print (or write) the whole custody log as JSON Lines, for ``verify_package.py --custody``."""
    with _exports(cfg) as ex:
        data = b"".join(x + b"\n" for x in ex.service.custody.lines(ex.service.record(args.id).id))
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"{len(data.splitlines())} events written to {args.out}", file=out)
    else:
        out.write(data.decode("utf-8"))
    return 0


def cmd_key(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Print the key that signs packages (the export key) and the key that signs the camera logs
    in them, each with its fingerprint (publish both; verifiers --trust both)."""
    from archive.export.verifier.formats import fingerprint

    with _exports(cfg) as ex:
        prefix = ex.ledger.settings.origin_prefix
        vk = ex.ledger.export_keys.active().log_key(f"{prefix}/export")
        cam = ex.ledger.keys.active().public
        print(f"{vk.encode()}\nfingerprint {fingerprint(vk.public_key)}", file=out)
        print(f"# camera logs {prefix}/camera/<id> are signed by {cam.encode()}\n"
              f"camera fingerprint {fingerprint(cam.public_key)}", file=out)  # fmt: skip
        flags = f"--trust export={fingerprint(vk.public_key)} --trust camera={fingerprint(cam.public_key)}"
        print(f"# verify with: {flags}", file=out)
    return 0


def cmd_verify_package(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Verify a package (zip or folder) offline; with --token-file, record the result in its custody log."""
    if args.package is None and args.sub not in (None, "package"):
        args.package = args.sub  # 'archive verify FILE.zip'
    record = bool(getattr(args, "token_file", None)) or getattr(args, "free_as", None) is not None
    if record:
        args.package_hash = True
    code, outcome = run_outcome(args, out, sys.stderr)
    if record and outcome is not None:
        require_archive(cfg)  # recording the result needs the archive (the check alone does not)
        from archive.export.model import Actor, cli_origin

        with _exports(cfg) as ex:
            if outcome.export_id is None:
                raise UserError("the package names no export id; nothing recorded")
            ex.service.record_verification(Actor.of(_who(ex, args), cli_origin()), outcome.export_id, {
                "valid": outcome.valid, "verdict": outcome.verdict(), "failed_step": outcome.failed_step,
                "package_sha256": outcome.package_sha256,
                "trust": "pinned" if args.trust else "bundled keys", "tool": "archive verify package"})  # fmt: skip
        print(f"recorded in the custody log of export {outcome.export_id}", file=out)
    return code


class _PackagePaths(dict[str, argparse.ArgumentParser]):
    """The ``verify`` subcommand map, also answering for a package path (``archive verify FILE.zip``)."""

    def __init__(self, base: dict[str, argparse.ArgumentParser], package: argparse.ArgumentParser) -> None:
        super().__init__(base)
        self._package = package

    @staticmethod
    def _is_package(key: object) -> bool:
        if not isinstance(key, str):
            return False
        return key.endswith(".zip") or (Path(key) / "manifest.json").is_file()

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or self._is_package(key)

    def __missing__(self, key: str) -> argparse.ArgumentParser:
        if self._is_package(key):
            return self._package
        raise KeyError(key)


def _verify_group(sub: Any) -> Any:
    """The subparsers action of ``archive verify`` (created by archive.ledger.cli), or a new one."""
    parser = sub.choices.get("verify")
    if parser is None:
        parser = sub.add_parser("verify", help="verify recordings, logs and evidence packages")
        return parser.add_subparsers(dest="sub", required=True)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="sub", required=True)


def _add_user(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--token-file`` (or ``$ARCHIVE_TOKEN``): act as that token's user (needed unless
    ``required`` is False); a typed ``--as USER`` is parsed only to be refused (exit 2)."""
    need = "" if required else " (optional)"
    p.add_argument("--token-file", metavar="PATH",
                   help=f"act as the registered user of this token{need} (default $ARCHIVE_TOKEN)")  # fmt: skip
    p.add_argument("--as", dest="free_as", help=argparse.SUPPRESS)


def register(sub: Any) -> None:
    """Add ``export`` and ``verify package`` (plus ``verify FILE.zip``) to the ``archive`` subparsers."""
    ex = sub.add_parser("export", help="chain-of-custody evidence exports").add_subparsers(dest="sub", required=True)
    rq = ex.add_parser("request", help="request an export; places a legal hold on cameras x range at once")
    _add_user(rq)
    rq.add_argument("--case", required=True, help="case number")
    rq.add_argument("--legal-basis", required=True, help="legal basis of the request (e.g. the warrant)")
    rq.add_argument("--reason", required=True, help="why the footage is needed")
    rq.add_argument("--camera", action="append", required=True, help="camera id (repeat, or comma-separated)")
    rq.add_argument("--from", dest="time_from", required=True, help="range start, ISO 8601 with time zone")
    rq.add_argument("--to", dest="time_to", required=True, help="range end, ISO 8601 with time zone")
    rq.set_defaults(handler=cmd_request)
    for name, fn, helptext in (("approve", cmd_approve, "approve (owner staff of the cameras' owner, or admin)"),
                               ("refuse", cmd_refuse, "refuse (a reason is required)")):  # fmt: skip
        p = ex.add_parser(name, help=helptext)
        p.add_argument("id", help="export id")
        _add_user(p)
        p.add_argument("--reason", required=name == "refuse", help="why")
        p.set_defaults(handler=fn)
    wd = ex.add_parser("withdraw", help="withdraw a request (its requesting agency); its legal hold is released")
    wd.add_argument("id", help="export id")
    _add_user(wd)
    wd.add_argument("--reason", required=True, help="why (kept in the custody log)")
    wd.set_defaults(handler=cmd_withdraw)
    b = ex.add_parser("build", help="build an approved export now (progress on stderr)")
    b.add_argument("id")
    _add_user(b, required=False)
    b.add_argument("--no-working-copy", action="store_true", help="skip the derived MP4 working copies")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(handler=cmd_build)
    d = ex.add_parser("download", help="copy the built package out; its SHA-256 is printed first")
    d.add_argument("id")
    _add_user(d)
    d.add_argument("--out", help="file or folder (default: the package's name in the current folder)")
    d.set_defaults(handler=cmd_download)
    ls = ex.add_parser("list", help="list exports")
    _add_user(ls, required=False)
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(handler=cmd_list)
    sh = ex.add_parser("show", help="one export with its custody log")
    sh.add_argument("id")
    _add_user(sh, required=False)
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.set_defaults(handler=cmd_show)
    cu = ex.add_parser("custody", help="the whole custody log (JSON Lines) for verify --custody")
    cu.add_argument("id")
    cu.add_argument("--out", help="write to this file instead of stdout")
    cu.set_defaults(handler=cmd_custody)
    ex.add_parser("key", help="the key that signs packages and its fingerprint").set_defaults(handler=cmd_key)

    group = _verify_group(sub)
    vp = group.add_parser("package", help="verify an evidence package offline (also: archive verify FILE.zip)")
    add_arguments(vp, package_required=False)
    vp.add_argument("--token-file", metavar="PATH", help="record the result in the export's custody log as this "
                                                        "token's registered user")  # fmt: skip
    vp.add_argument("--as", dest="free_as", help=argparse.SUPPRESS)
    no_archive_needed(vp).set_defaults(handler=cmd_verify_package)
    if isinstance(group._name_parser_map, dict):
        paths = _PackagePaths(group._name_parser_map, vp)
        group._name_parser_map = paths
        group.choices = paths
