"""The report as PDF (``report.pdf``): the content of ``report.html`` as plain text pages, for
courts and case files that take PDF only. Written by :class:`archive.export.pdf.PdfText` (no
dependency): the case, who requested, approved and built the export and when, the range,
the cameras, what covers the range (every gap with its reason), the checkpoints and witness
cosignatures, the custody log, every file with its SHA-256, and how to verify.
"""

from __future__ import annotations

from archive.export.gather import CameraEvidence
from archive.export.pdf import PdfText
from archive.export.report import DISTRIBUTION, ReportInput, anchor_sentence
from archive.export.report_text import (
    camera_facts,
    clock_summary,
    custody_lines,
    ongoing_text,
    times_note,
    trust_text,
    when_us,
)
from archive.export.verifier.formats import fingerprint
from archive.integrity import Cosignature, Gap, Segment, SignedNote, format_time
from archive.model import us_from_utc, utc_from_us

__all__ = ["render_report_pdf"]


def _dur(us: int) -> str:
    s = us / 1e6
    return f"{s:.3f} s" if s < 120 else f"{s / 60:.1f} min ({s:.0f} s)"


def _when(r: ReportInput, us: int) -> str:
    return when_us(r.settings, us)


def _summary(d: PdfText, r: ReportInput) -> None:
    rec, req, op = r.rec, r.requester, r.operator
    d.heading("Summary")
    d.field("Case", rec.case_id)
    d.field("Legal basis", rec.legal_basis)
    d.field("Reason", rec.reason)
    d.field("Requested by", f"{req.name} ({req.user}, {req.role}, agency {req.agency}), from {req.origin}")
    d.field("Requested at", _when(r, rec.requested_us))
    for a in rec.approvals:
        d.field(f"Approval {a.owner_id}", f"{a.decision or 'pending'} by {a.actor_name} ({a.actor}, {a.actor_role}) "
                f"under rule {a.rule.value}" + (f", {_when(r, a.at_us)}" if a.at_us else "")
                + (f"; reason: {a.reason}" if a.reason else ""))  # fmt: skip
    d.field("Built by (operator)", f"{op.name} ({op.user}, {op.role}), from {op.origin}")
    d.field("Package created", _when(r, r.created_us))
    d.field("Requested range", f"{_when(r, rec.start_us)} to {_when(r, rec.end_us)} "
                               f"({_dur(rec.end_us - rec.start_us)})")  # fmt: skip
    d.field("Legal hold", f"hold {rec.hold_id} placed on the range when requested" if rec.hold_id else "none")
    d.field("Export id / package", f"{rec.id} / {r.package}")
    d.field("Signing key", f"{r.signer.name}, fingerprint {fingerprint(r.signer.public_key)}")


def _cameras(d: PdfText, r: ReportInput) -> None:
    d.heading("Cameras")
    for ev in r.evidence:
        c = r.cameras.get(ev.camera_id)
        o = r.owners.get(c.owner_id) if c is not None else None
        d.field(ev.camera_id, f"{c.name if c else '?'}; owner {f'{o.name} ({o.kind.value})' if o else '?'}; place "
                f"{c.location if c else '?'} ({f'{c.latitude:.6f}, {c.longitude:.6f}' if c else '?'}); evidence log "
                f"{ev.origin}")  # fmt: skip


def _coverage(d: PdfText, r: ReportInput, ev: CameraEvidence) -> None:
    rep, lo, hi = ev.report, r.rec.start_us, r.rec.end_us
    segs = [e.payload for e in rep.entries if isinstance(e.payload, Segment)]
    gaps = [e for e in rep.entries if isinstance(e.payload, Gap)]
    seg_us = sum(max(0, min(us_from_utc(p.end), hi) - max(us_from_utc(p.start), lo)) for p in segs)
    d.heading(f"Camera {ev.camera_id}", 2)
    d.paragraph(f"Log entries {ev.first} to {ev.end - 1} ({len(rep.entries)} entries: {len(segs)} segments, "
                f"{len(gaps)} gaps) rebuild the root {rep.checkpoint.root.hex()} of the checkpoint of size "
                f"{rep.checkpoint.size}, signed by {', '.join(k.name + '+' + k.key_id.hex() for k in rep.signed_by)}. "
                f"Recorded media covers {_dur(seg_us)} of the {_dur(hi - lo)} requested.")  # fmt: skip
    cosigs = [Cosignature.from_note_signature(s) for s in SignedNote.parse(ev.checkpoint_note).signatures
              if s.name != ev.origin]  # fmt: skip
    d.paragraph("Witness cosignatures (checked with the witness keys in keys/keys.txt): " + "; ".join(
        f"{c.name}+{c.key_id.hex()} at {format_time(utc_from_us(c.timestamp * 1_000_000))}" for c in cosigs)
        if cosigs else "No witness cosigned this checkpoint.", gap=3.0)  # fmt: skip
    if ev.cosignatures_left_out:
        d.paragraph("Cosignatures left out (not verifiable by the archive): " + "; ".join(ev.cosignatures_left_out))
    ongoing = ongoing_text(r.settings, ev, r.created_us, hi)
    if not gaps and ongoing is None:
        d.paragraph("Gaps: none; recorded segments cover the whole requested range.", gap=3.0)
    elif not gaps:
        d.paragraph("Gaps: none logged.", gap=3.0)
    else:
        d.paragraph("Gaps (intervals without media, with the recorder's reason):", bold=True, gap=3.0)
    for e in gaps:
        g = e.payload
        if isinstance(g, Gap):
            a, b = us_from_utc(g.start), us_from_utc(g.end)
            d.paragraph(f"seq {e.seq}: {_when(r, a)} to {_when(r, b)}, {_dur(b - a)}: {g.reason.value}"
                        + (f" ({g.detail})" if g.detail else ""), indent=2, hang=4)  # fmt: skip
    if ongoing is not None:
        d.paragraph(f"Ongoing outage (not yet logged, not covered): {ongoing}", bold=True, gap=3.0)
    if rep.pruned:
        d.paragraph("Media deleted by retention before the export (entries kept): seqs "
                    + ", ".join(f"{a}..{b - 1}" for a, b in rep.pruned), gap=3.0)  # fmt: skip
    d.paragraph(f"Clock: {clock_summary(r.settings, ev)}", gap=3.0)
    for n in camera_facts(r.settings, ev):
        d.paragraph(f"Fact the verifier reports: {n}", indent=2, hang=4)
    anchor = r.stamps.get(ev.camera_id)
    if anchor is not None:
        d.paragraph(f"Time anchor: {anchor_sentence(r.settings, ev, anchor)}", gap=3.0)
    still = r.stills.get(ev.camera_id)
    if still is not None:
        d.paragraph(f"DERIVED still frame {still.path} ({still.size} bytes, SHA-256 {still.sha256}): the first "
                    "keyframe of the camera's first exported segment, decoded by ffmpeg (shown in report.html; this "
                    "PDF is text only). It is not evidence: the segments are.", gap=3.0)  # fmt: skip
    wc, err = r.working.get(ev.camera_id), r.working_errors.get(ev.camera_id)
    if wc is not None:
        d.paragraph(f"DERIVED working copy {wc.path} ({wc.size} bytes, SHA-256 {wc.sha256}): the segments joined by "
                    "ffmpeg (concat, stream copy) for viewing. Gaps are not shown in it. It is not evidence: the "
                    "segments are.", gap=3.0)  # fmt: skip
    elif err:
        d.paragraph(f"No working copy: {err}", gap=3.0)


def render_report_pdf(r: ReportInput) -> bytes:
    """The report as a PDF file's bytes."""
    title = f"Evidence export: case {r.rec.case_id}"
    d = PdfText(title, f"case {r.rec.case_id}, export {r.rec.id}", created=utc_from_us(r.created_us))
    d.heading(title)
    d.paragraph("This package holds the native video segments exactly as the archive stored them, the signed "
                "tamper-evident log entries that describe them, proofs tying those entries to signed checkpoints, "
                f"and the custody log of this export. {times_note(r.settings)} The same report is in report.html.")
    _summary(d, r)
    _cameras(d, r)
    d.heading("Coverage of the requested range")
    for ev in r.evidence:
        _coverage(d, r, ev)
    d.heading("Custody log")
    d.paragraph("Who did what and when, as sealed in this package (hash-chained; the archive keeps appending later "
                f"events such as downloads and verifications: archive export custody {r.rec.id}).")  # fmt: skip
    for e, line in zip(r.custody, custody_lines(r.settings, list(r.custody)), strict=True):
        d.paragraph(f"#{e.seq} {line}", hang=4, gap=2.0)
    d.heading("Distribution")
    d.paragraph(DISTRIBUTION, gap=3.0)
    d.heading("Files and hashes")
    d.paragraph(f"{len(r.files)} files: path, kind, bytes, then the SHA-256 on the next line.")
    for f in sorted(r.files, key=lambda f: f.path):
        d.paragraph(f"{f.path}  ({f.kind}, {f.size} bytes)\n  {f.sha256}", gap=1.0)
    d.heading("How to verify")
    d.paragraph("With Python 3.11+ and the cryptography package, and no network, in the unpacked folder (or give "
                "the zip):")  # fmt: skip
    d.paragraph("python verify_package.py --trust export=FINGERPRINT --trust camera=LOG_FINGERPRINT", indent=4,
                gap=3.0)  # fmt: skip
    d.paragraph(f"FINGERPRINT = {fingerprint(r.signer.public_key)} (the export key: the manifest)", indent=4)
    for lf in r.log_fingerprints or (fingerprint(r.signer.public_key),):
        d.paragraph(f"LOG_FINGERPRINT = {lf} (the camera key: the camera logs)", indent=4)
    d.paragraph(f"The key to trust. {trust_text(r.signer, r.log_fingerprints)}", gap=3.0)
    d.paragraph("The package format is specified in integrity/EXPORT-SPEC.md and the log format in "
                "integrity/SPEC.md; the verifier lists every check with its step number and exits 0 only if all "
                "hold.", gap=3.0)  # fmt: skip
    return d.build()
