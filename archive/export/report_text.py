"""The words of the package report (``report.html``, ``report.pdf``) for a judge (issue 15 item 7,
EXPORT-SPEC.md 12): times in WIB and UTC, custody events as sentences, each camera's facts with
holes within the tolerance summarised once, what the clock entries say (or that there are none),
and the fingerprint with the archive name and how to obtain the key to trust.

The sentences themselves are :mod:`archive.export.verifier.wording`, which the verifier in the
package uses too, so the report and a verification say the same things in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable

from archive.export.gather import CameraEvidence
from archive.export.model import ExportSettings
from archive.export.verifier.custody import CustodyEvent
from archive.export.verifier.formats import fingerprint
from archive.export.verifier.wording import (
    ZONES,
    custody_sentence,
    duration,
    ongoing_sentence,
    readable_facts,
    trust_paragraph,
    when,
)
from archive.integrity import ALG_ED25519, Clock, Signer, VerifierKey
from archive.model import utc_from_us

__all__ = ["archive_name", "camera_facts", "clock_summary", "custody_lines", "ongoing_text", "times_note", "trust_text",
           "when_us"]  # fmt: skip


def times_note(s: ExportSettings) -> str:
    """How the report gives times, e.g. ``Times are local time, WIB (UTC+07:00, Asia/Jakarta), with UTC
    beside them.``"""
    label, hours = ZONES.get(s.zone_name, ("UTC", 0))
    if hours == 0:
        return "Times are UTC."
    return f"Times are local time, {label} (UTC+{hours:02d}:00, {s.zone_name}), with UTC beside them."


def when_us(s: ExportSettings, us: int) -> str:
    """Microseconds since the epoch as ``<weekday> <date>, <time> WIB (<time> UTC)``."""
    return when(utc_from_us(us), s.zone_name)


def custody_lines(s: ExportSettings, events: list[CustodyEvent]) -> list[str]:
    """Every custody event as one sentence."""
    return [custody_sentence(e, s.zone_name) for e in events]


def _at_start(s: ExportSettings, ev: CameraEvidence) -> str:
    """The clock's state at the start of the range: the clock entry exported before it (EXPORT-SPEC.md 7.2)."""
    head = ev.report.entries[0] if ev.report.entries else None
    if ev.clock_before is None or head is None or not isinstance(head.payload, Clock):
        return ("The camera's log holds no clock entry before the range, so whether the recorder's clock was "
                "synchronized at its start is unknown. ")  # fmt: skip
    c = head.payload
    state = "synchronized" if c.synced else "NOT synchronized"
    return f"At the start of the range the recorder's clock was {state} (clock entry of {when(c.at, s.zone_name)}). "


def clock_summary(s: ExportSettings, ev: CameraEvidence) -> str:
    """What the clock entries among the exported entries say about the recorder's clock: its state
    at the start of the range (the latest clock entry before it), then over the range."""
    return _at_start(s, ev) + _over_range(s, ev)


def _over_range(s: ExportSettings, ev: CameraEvidence) -> str:
    clocks = [e.payload for e in ev.report.entries if isinstance(e.payload, Clock)]
    if not clocks:
        return ("No clock entry lies among the exported log entries: this package does not record whether the "
                "recorder's clock was synchronized over the range.")  # fmt: skip
    bad = [c for c in clocks if not c.synced]
    first, last = clocks[0], clocks[-1]
    text = (f"{len(clocks)} clock entr{'y' if len(clocks) == 1 else 'ies'} from {when(first.at, s.zone_name)} to "
            f"{when(last.at, s.zone_name)}")  # fmt: skip
    if bad:
        return text + f": the clock was NOT synchronized at {len(bad)} of them (first {when(bad[0].at, s.zone_name)})."
    worst = max((c.max_error_us for c in clocks if c.max_error_us is not None), default=None)
    bound = f", error bound at most {duration(worst)}" if worst is not None else ""
    return text + f": synchronized ({first.source}{bound})."


def camera_facts(s: ExportSettings, ev: CameraEvidence) -> list[str]:
    """The verifier's facts of one camera in readable words (without the camera prefix)."""
    prefix = f"{ev.camera_id}: "
    facts = readable_facts([prefix + n for n in ev.report.notes], s.tolerance_us, s.zone_name)
    return [f.removeprefix(prefix) for f in facts]


def ongoing_text(s: ExportSettings, ev: CameraEvidence, created_us: int, end_us: int) -> str | None:
    """The camera's ongoing outage (not yet logged) as a sentence, None when it has none."""
    if ev.ongoing is None:
        return None
    return ongoing_sentence(ev.camera_id, utc_from_us(ev.ongoing.from_us), utc_from_us(created_us),
                            utc_from_us(end_us), ev.ongoing.state, s.zone_name)  # fmt: skip


def archive_name(signer: Signer) -> str:
    """The archive's name: the export key's name without ``/export``."""
    return signer.name.removesuffix("/export")


def log_fingerprints(signer: Signer, keys: Iterable[VerifierKey]) -> tuple[str, ...]:
    """Fingerprints of the camera log keys among ``keys`` (the package's keys file) that are not
    the export key ``signer``'s (an archive made before separate keys signs both with one)."""
    prefix = f"{archive_name(signer)}/camera/"
    found = (fingerprint(k.public_key) for k in keys if k.name.startswith(prefix) and k.alg == ALG_ED25519)
    return tuple(f for f in dict.fromkeys(found) if f != fingerprint(signer.public_key))


def trust_text(signer: Signer, logs: tuple[str, ...] = ()) -> str:
    """How to obtain the keys to trust, naming the archive and the fingerprints (``logs``: of
    the camera log keys, :func:`log_fingerprints`)."""
    return trust_paragraph(archive_name(signer), fingerprint(signer.public_key), logs)
