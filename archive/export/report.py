"""The human-readable report of a package (``report.html``), written for a judge.

Plain HTML with inline CSS (no scripts, nothing fetched), printable to PDF from any browser.
It says: the case and legal basis, who requested, approved and built the export and when
(UTC beside the display zone), the requested range, each camera (name, owner, place), what
covers the range (segments, every gap with its reason, deleted media, small holes, clock
notes), the signed checkpoints, hashes of every file, the custody log, and how to verify.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from archive.export.gather import CameraEvidence
from archive.export.model import Actor, ExportRecord, ExportSettings
from archive.export.report_text import (
    camera_facts,
    clock_summary,
    custody_lines,
    ongoing_text,
    times_note,
    trust_text,
    when_us,
)
from archive.export.verifier.custody import CustodyEvent
from archive.export.verifier.formats import fingerprint
from archive.export.verifier.wording import trust_flags
from archive.export.zipout import FileRecord
from archive.integrity import Cosignature, Gap, Segment, SignedNote, Signer, format_time, parse_time
from archive.model import Camera, Owner, us_from_utc, utc_from_us
from archive.redact import scrub

__all__ = ["DISTRIBUTION", "ReportInput", "render_report"]

_CSS = """body{font-family:sans-serif;max-width:72rem;margin:2rem auto;color:#111;line-height:1.4}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}td,th{border:1px solid #999;padding:.25rem .4rem;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#eee}code{font-size:.8rem;word-break:break-all}
.derived{background:#fff3cd}.gap{background:#fde2e2}h2{border-bottom:2px solid #333;margin-top:2rem}
.small{font-size:.8rem;color:#444}"""


@dataclass(frozen=True)
class ReportInput:
    """Everything the report shows."""

    rec: ExportRecord
    package: str
    created_us: int
    requester: Actor
    operator: Actor
    evidence: Sequence[CameraEvidence]
    cameras: Mapping[str, Camera]
    owners: Mapping[str, Owner]
    working: Mapping[str, FileRecord]
    working_errors: Mapping[str, str]
    files: Sequence[FileRecord]
    custody: Sequence[CustodyEvent]
    signer: Signer
    settings: ExportSettings
    #: fingerprints of the camera log keys when they are not the export key's (report_text.log_fingerprints)
    log_fingerprints: tuple[str, ...] = ()
    #: each camera's derived still frame (its first keyframe, EXPORT-SPEC.md 4), when ffmpeg made one
    stills: Mapping[str, FileRecord] = field(default_factory=dict)
    #: each camera's RFC 3161 time-stamp token over its checkpoint (EXPORT-SPEC.md 7.6), when a TSA is configured
    stamps: Mapping[str, TimeAnchor] = field(default_factory=dict)


@dataclass(frozen=True)
class TimeAnchor:
    """A camera checkpoint's RFC 3161 token: its path in the package, genTime (archive time) and TSA."""

    path: str
    gen_time: str
    tsa: str


def anchor_sentence(s: ExportSettings, ev: CameraEvidence, a: TimeAnchor) -> str:
    """The report's sentence for one camera's time-stamp token (plain text, not escaped)."""
    cp = ev.report.checkpoint
    when = when_us(s, us_from_utc(parse_time(a.gen_time, "genTime")))
    return (f"Independent time anchor: the time-stamping authority {a.tsa} signed, at {when}, that this camera's "
            f"log of {cp.size} entries (root {cp.root.hex()}) existed, so no exported entry was written later "
            f"(RFC 3161 token {a.path}; check it without this archive: sed -n '/^$/q;p' "
            f"cameras/{ev.camera_id}/checkpoint.note > checkpoint.txt; openssl ts -verify -in {a.path} -data "
            "checkpoint.txt -CAfile <the TSA's certificate, obtained from the TSA>).")


def _e(value: object) -> str:
    """Every text of the report passes here: escaped, and scrubbed of credentials (a gap entry
    logged before details were scrubbed may hold a camera URL with its password)."""
    return html.escape("" if value is None else scrub(str(value)))


def _when(s: ExportSettings, us: int) -> str:
    return _e(when_us(s, us))


def _dur(us: int) -> str:
    s = us / 1e6
    return f"{s:.3f} s" if s < 120 else f"{s / 60:.1f} min ({s:.0f} s)"


def _rows(rows: Sequence[Sequence[str]], head: Sequence[str], cls: Sequence[str] = ()) -> str:
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for i, r in enumerate(rows):
        c = f' class="{cls[i]}"' if i < len(cls) and cls[i] else ""
        out.append(f"<tr{c}>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>")
    return "\n".join(out) + "</table>"


def _summary(r: ReportInput) -> str:
    rec, s = r.rec, r.settings
    approvals = "<br>".join(
        f"{_e(a.owner_id)}: <b>{_e(a.decision or 'pending')}</b> by {_e(a.actor_name)} ({_e(a.actor)}, "
        f"{_e(a.actor_role)}) under rule <i>{_e(a.rule.value)}</i>" + (f", {_when(s, a.at_us)}" if a.at_us else "")
        + (f"; reason: {_e(a.reason)}" if a.reason else "") for a in rec.approvals)  # fmt: skip
    rows = [
        ("Case", f"<b>{_e(rec.case_id)}</b>"), ("Legal basis", _e(rec.legal_basis)), ("Reason", _e(rec.reason)),
        ("Requested by", f"{_e(r.requester.name)} ({_e(r.requester.user)}, {_e(r.requester.role)}, agency "
                         f"{_e(r.requester.agency)}), from {_e(r.requester.origin)}"),
        ("Requested at", _when(s, rec.requested_us)), ("Approvals", approvals),
        ("Built by (operator)", f"{_e(r.operator.name)} ({_e(r.operator.user)}, {_e(r.operator.role)}), from "
                                f"{_e(r.operator.origin)}"),
        ("Package created", _when(s, r.created_us)),
        ("Requested range", f"{_when(s, rec.start_us)}<br>to<br>{_when(s, rec.end_us)}<br>"
                            f"({_dur(rec.end_us - rec.start_us)})"),
        ("Legal hold", f"hold {rec.hold_id} placed on the range when requested" if rec.hold_id else "none"),
        ("Export id / package", f"{_e(rec.id)} / {_e(r.package)}"),
        ("Signing key", f"{_e(r.signer.name)}<br>fingerprint <code>{_e(fingerprint(r.signer.public_key))}</code>"),
    ]  # fmt: skip
    return _rows([(f"<b>{k}</b>", v) for k, v in rows], ("", ""))


def _cameras(r: ReportInput) -> str:
    rows = []
    for ev in r.evidence:
        c = r.cameras.get(ev.camera_id)
        o = r.owners.get(c.owner_id) if c is not None else None
        rows.append((_e(ev.camera_id), _e(c.name if c else "?"), _e(f"{o.name} ({o.kind.value})" if o else "?"),
                     _e(c.location if c else "?"), _e(f"{c.latitude:.6f}, {c.longitude:.6f}" if c else "?"),
                     f"<code>{_e(ev.origin)}</code>"))  # fmt: skip
    return _rows(rows, ("Camera", "Name", "Owner", "Place", "Latitude, longitude", "Evidence log"))


def _witnesses(ev: CameraEvidence) -> str:
    cosigs = [Cosignature.from_note_signature(sig) for sig in SignedNote.parse(ev.checkpoint_note).signatures
              if sig.name != ev.origin]  # fmt: skip
    said = "; ".join(f"{_e(c.name)}+{c.key_id.hex()} at {_e(format_time(utc_from_us(c.timestamp * 1_000_000)))}"
                     for c in cosigs)  # fmt: skip
    text = (f"<p><b>Witness cosignatures</b> on this checkpoint (checked with the witness keys in "
            f"<code>keys/keys.txt</code>): {said}.</p>" if cosigs else
            "<p>No witness cosigned this checkpoint.</p>")  # fmt: skip
    if ev.cosignatures_left_out:
        text += "<p>Cosignatures left out (not verifiable by the archive): " + "; ".join(
            _e(x) for x in ev.cosignatures_left_out) + "</p>"  # fmt: skip
    return text


def _coverage(r: ReportInput, ev: CameraEvidence) -> str:
    s, rep = r.settings, ev.report
    lo, hi = r.rec.start_us, r.rec.end_us
    segs = [e for e in rep.entries if isinstance(e.payload, Segment)]
    gaps = [e for e in rep.entries if isinstance(e.payload, Gap)]
    seg_us = sum(max(0, min(us_from_utc(p.end), hi) - max(us_from_utc(p.start), lo))
                 for p in (e.payload for e in segs) if isinstance(p, Segment))  # fmt: skip
    parts = [f"<h3>Camera {_e(ev.camera_id)}</h3>",
             f"<p>Log entries {ev.first} to {ev.end - 1} ({len(rep.entries)} entries: {len(segs)} segments, "
             f"{len(gaps)} gaps) rebuild the root <code>{rep.checkpoint.root.hex()}</code> of the checkpoint of "
             f"size {rep.checkpoint.size}, signed by "
             f"{_e(', '.join(k.name + '+' + k.key_id.hex() for k in rep.signed_by))}. Recorded media covers "
             f"{_dur(seg_us)} of the {_dur(hi - lo)} requested.</p>", _witnesses(ev)]  # fmt: skip
    rows, cls = [], []
    for e in gaps:
        g = e.payload
        if isinstance(g, Gap):
            a, b = us_from_utc(g.start), us_from_utc(g.end)
            rows.append((str(e.seq), _when(s, a), _when(s, b), _dur(b - a), f"<b>{_e(g.reason.value)}</b>",
                         _e(g.detail)))  # fmt: skip
            cls.append("gap")
    ongoing = ongoing_text(s, ev, r.created_us, hi)
    none = "<p>None logged.</p>" if ongoing else "<p>None: recorded segments cover the whole requested range.</p>"
    parts.append("<p><b>Gaps</b> (intervals without media, with the recorder's reason):</p>" +
                 (_rows(rows, ("Seq", "From", "To", "Length", "Reason", "Detail"), cls) if rows else none))  # fmt: skip
    if ongoing is not None:
        parts.append(f'<p class="gap"><b>Ongoing outage (not yet logged, not covered)</b>: {_e(ongoing)}</p>')
    if rep.pruned:
        parts.append("<p><b>Media deleted by retention</b> before the export (entries kept): seqs "
                     + ", ".join(f"{a}..{b - 1}" for a, b in rep.pruned) + "</p>")
    parts.append(f"<p><b>Clock</b>: {_e(clock_summary(s, ev))}</p>")
    if rep.notes:
        parts.append("<p><b>Facts the verifier reports</b>:</p><ul>"
                     + "".join(f"<li>{_e(n)}</li>" for n in camera_facts(s, ev)) + "</ul>")  # fmt: skip
    anchor = r.stamps.get(ev.camera_id)
    if anchor is not None:
        parts.append(f"<p><b>Time anchor</b>: {_e(anchor_sentence(s, ev, anchor))}</p>")
    still = r.stills.get(ev.camera_id)
    if still is not None:
        parts.append(f'<p class="derived"><b>DERIVED still frame</b> <code>{_e(still.path)}</code> ({still.size} '
                     f"bytes, SHA-256 <code>{still.sha256}</code>): the first keyframe of the camera's first exported "
                     "segment, decoded by ffmpeg, so a reader sees what the camera saw. It is not evidence: the "
                     f'segments are.<br><img src="{_e(still.path)}" alt="still frame of camera {_e(ev.camera_id)} '
                     '(derived)" style="max-width:100%"></p>')  # fmt: skip
    wc, err = r.working.get(ev.camera_id), r.working_errors.get(ev.camera_id)
    if wc is not None:
        parts.append(f'<p class="derived"><b>DERIVED working copy</b> <code>{_e(wc.path)}</code> ({wc.size} bytes, '
                     f"SHA-256 <code>{wc.sha256}</code>): the segments joined by ffmpeg (concat, stream copy) for "
                     "viewing. Gaps are not shown in it. It is not evidence: the segments are.</p>")  # fmt: skip
    elif err:
        parts.append(f'<p class="derived">No working copy: {_e(err)}</p>')
    return "\n".join(parts)


def _custody(r: ReportInput) -> str:
    said = custody_lines(r.settings, list(r.custody))
    rows = [(str(e.seq), f"<b>{_e(e.event)}</b>", _e(line)) for e, line in zip(r.custody, said, strict=True)]
    return _rows(rows, ("#", "Event", "What happened"))


def _files(r: ReportInput) -> str:
    rows = [(f"<code>{_e(f.path)}</code>", _e(f.kind), str(f.size), f"<code>{f.sha256}</code>")
            for f in sorted(r.files, key=lambda f: f.path)]  # fmt: skip
    return (f"<details><summary>{len(rows)} files (click to show)</summary>"
            + _rows(rows, ("File", "Kind", "Bytes", "SHA-256"), ["derived" if f[1] == "derived" else "" for f in rows])
            + "</details>")  # fmt: skip


DISTRIBUTION = (
    "A package, once downloaded, cannot be recalled: the archive does not control copies already made. "
    "The archive serves further downloads only to the requesting agency and only while every camera of "
    "the export is still shared with it; when an owner withdraws sharing, further downloads by that agency "
    "are refused. Every download is recorded in the custody log.")
"""What the report says about recalling a package (README, Evidence API)."""


def render_report(r: ReportInput) -> bytes:
    """The report as UTF-8 HTML."""
    fp = fingerprint(r.signer.public_key)
    body = [
        f"<h1>Evidence export: case {_e(r.rec.case_id)}</h1>",
        "<p>This package holds the native video segments exactly as the archive stored them, the signed "
        "tamper-evident log entries that describe them, proofs tying those entries to signed checkpoints, and "
        f"the custody log of this export. {_e(times_note(r.settings))}</p>",
        "<h2>Summary</h2>", _summary(r), "<h2>Cameras</h2>", _cameras(r),
        "<h2>Coverage of the requested range</h2>", *(_coverage(r, ev) for ev in r.evidence),
        "<h2>Custody log</h2><p>Who did what and when, as sealed in this package (hash-chained; the archive "
        "keeps appending later events such as downloads and verifications: <code>archive export custody "
        f"{_e(r.rec.id)}</code>).</p>", _custody(r),
        f"<h2>Distribution</h2><p>{_e(DISTRIBUTION)}</p>",
        "<h2>Files and hashes</h2>", _files(r),
        "<h2>How to verify</h2><p>With Python 3.11+ and the <code>cryptography</code> package, and no network:</p>"
        f"<pre>python verify_package.py {_e(trust_flags(fp, r.log_fingerprints))}</pre>"
        "<p>run in the unpacked folder (or give the zip).</p>"
        f"<p><b>The key to trust.</b> {_e(trust_text(r.signer, r.log_fingerprints))}</p>"
        "<p>The package format is specified in "
        "<code>integrity/EXPORT-SPEC.md</code> and the log format in <code>integrity/SPEC.md</code>; the verifier "
        "lists every check with its step number and exits 0 only if all hold.</p>",
    ]  # fmt: skip
    doc = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Evidence export '
           f"{_e(r.rec.case_id)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body)
           + "\n</body></html>\n")  # fmt: skip
    return doc.encode("utf-8")
