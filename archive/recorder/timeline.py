"""Per camera, what the recorder was doing at each second: the facts a gap's reason comes from.

The supervisor marks every change of a camera's state (SPEC.md 2.3, "Reasons"): media arriving
(a run recording), a run ended and why (camera unreachable, stream error, watchdog, spool full,
the recorder stopping), a TCP connect that failed (camera unreachable, with the attempt count),
recording paused for a full spool. The ingester asks :meth:`StateTimeline.explain` for the
interval of a gap and logs one gap entry per piece, each with the reason in force then
(SPEC.md 9, "Gap reasons from the recorder's state"):

* a piece in a recording state takes the reason of the next change (why that run ended: the
  last media came before ffmpeg noticed);
* the marks are kept in a file (the camera's spool directory, ``states.jsonl``) and loaded at
  the next start, so segments ingested after a restart still get the earlier recorder's facts;
  time after its last mark and before this start, or before any mark, is ``recorder_stopped``
  ("the recorder was not running");
* pieces shorter than the gap tolerance join the piece before them (the first one the piece
  after it), and neighbours with the same reason are one piece (details joined by "; then ").

Details are facts the recorder saw (an error message, a host and port, a count); a stream URL
is never kept (it may carry a camera password): :func:`without_urls` removes any.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from archive.recorder.sink import RecorderGapReason

log = logging.getLogger(__name__)
NOT_RUNNING: Final = "the recorder was not running"
CLEAN_STOP: Final = "the recorder was stopped"  # the mark a clean stop leaves (supervisor)
UNCLEAN_END: Final = "the recorder ended without a clean stop (killed, crashed or powered off)"
OPERATOR_STOP: Final = "the camera was"  # + " disabled by an operator (the recorder saw it at T; ...)" (cli.follow)
STATES_FILE: Final = "states.jsonl"  # in the camera's spool directory
_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_KEPT_MARKS: Final = 4096  # a camera flapping for days: the oldest marks are dropped first


def operator_stop(what: str, at: dt.datetime) -> str:
    """The detail of a camera an operator took out of recording (``what``: disabled, removed); ``at`` is
    when the recorder saw the change (the registry keeps no time of the change itself)."""
    return (f"{OPERATOR_STOP} {what} by an operator (the recorder saw it at {_iso(at)}; "
            f"archive cameras {what[:-1]} or the API)")


def without_urls(text: str) -> str:
    """``text`` with every ``scheme://...`` word replaced by ``<URL>`` (pure)."""
    return _URL.sub("<URL>", text)


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Mark:
    """From ``at`` on, the camera was in this state: ``reason`` None = media arriving."""

    at: dt.datetime
    reason: RecorderGapReason | None
    detail: str = ""


@dataclass(frozen=True)
class Piece:
    """One interval of a gap and the state that covered it."""

    start: dt.datetime
    end: dt.datetime
    reason: RecorderGapReason
    detail: str

    @property
    def seconds(self) -> float:
        """Length of the piece."""
        return (self.end - self.start).total_seconds()


class StateTimeline:
    """The state changes of one camera since ``started_at`` (when this recorder began watching it).

    Thread-safe: the supervisor marks from its event loop, the ingester explains from its
    dispatcher thread. Nothing raises.
    """

    def __init__(self, started_at: dt.datetime | None = None, path: Path | None = None) -> None:
        self.started_at = started_at
        self._marks: list[Mark] = []
        self._lock = threading.Lock()
        self._path = path  # marks kept across restarts (JSON lines), so segments ingested later get the facts
        self._lines = 0

    def mark(self, at: dt.datetime, reason: RecorderGapReason | None, detail: str = "") -> None:
        """The camera entered a state at ``at``. The same reason as the state in force only
        updates its detail (e.g. one more failed connect); URLs are removed from ``detail``."""
        detail = without_urls(detail)
        with self._lock:
            if self._marks and self._marks[-1].reason is reason:
                self._marks[-1] = replace(self._marks[-1], detail=detail)
            else:
                if self._marks and at < self._marks[-1].at:
                    at = self._marks[-1].at  # one clock, read in order: a step back is not a new past
                self._marks.append(Mark(at, reason, detail))
                if len(self._marks) > _KEPT_MARKS:
                    del self._marks[: len(self._marks) - _KEPT_MARKS]
            if self._lines > 2 * len(self._marks) + 64:  # mostly detail updates (a camera down for long)
                self._rewrite()
            else:
                self._append(self._marks[-1])

    def start(self, at: dt.datetime) -> None:
        """The recorder began watching the camera at ``at``: the marks an earlier recorder kept
        are loaded; time before them is ``recorder_stopped``, and the earlier run's last mark says
        whether that run was stopped (its :data:`CLEAN_STOP` mark) or ended without a clean stop
        (no such mark: killed, crashed or powered off)."""
        with self._lock:
            self.started_at = at
            self._load()
            last = self._marks[-1] if self._marks else None
        if last is None:  # no earlier run kept marks here: nothing is known of the time before
            detail = f"the recorder was not running or starting (it started at {_iso(at)})"
        elif last.reason is RecorderGapReason.RECORDER_STOPPED and last.detail == CLEAN_STOP:
            detail = f"{CLEAN_STOP} at {_iso(last.at)} and started again at {_iso(at)}"
        elif last.reason is RecorderGapReason.RECORDER_STOPPED and last.detail.startswith(OPERATOR_STOP):
            detail = f"{last.detail}; the recorder started it again at {_iso(at)}"
        else:  # the earlier run left no stop mark: SIGKILL, a crash or a power cut ended it
            detail = f"{UNCLEAN_END} and started again at {_iso(at)}"
        self.mark(at, RecorderGapReason.RECORDER_STOPPED, detail)

    def take_over(self, prior: Mark) -> None:
        """Another node recorded the camera since this recorder's marks (a failover or a handover):
        they explain nothing after it any more. Forget them and explain the time from ``prior.at``
        (where the camera's log ends) with ``prior``'s reason until this recorder's next mark."""
        with self._lock:
            self._marks = [Mark(prior.at, prior.reason, without_urls(prior.detail))]
            if self.started_at is None or self.started_at < prior.at:
                self.started_at = prior.at
            self._rewrite()

    # -- persistence (never raises: without the file, reasons after a restart are "not running") --
    def _append(self, mark: Mark) -> None:
        if self._path is None:
            return
        line = json.dumps({"at": _iso(mark.at), "reason": mark.reason and mark.reason.value, "detail": mark.detail})
        try:
            with self._path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            self._lines += 1
        except OSError as exc:
            log.warning("cannot keep the camera's state in %s: %s", self._path, exc)

    def _load(self) -> None:
        if self._path is None:
            return
        try:
            lines = self._path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read the camera's earlier state from %s: %s", self._path, exc)
            return
        loaded: list[Mark] = []
        for line in lines:
            try:
                raw = json.loads(line)
                mark = Mark(dt.datetime.fromisoformat(raw["at"]),
                            RecorderGapReason(raw["reason"]) if raw["reason"] else None,
                            str(raw["detail"]))  # fmt: skip
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash
            if loaded and loaded[-1].reason is mark.reason:
                loaded[-1] = replace(loaded[-1], detail=mark.detail)
            elif not loaded or mark.at >= loaded[-1].at:
                loaded.append(mark)
        self._marks = loaded[-_KEPT_MARKS:] + self._marks
        self._lines = len(lines)

    def _rewrite(self) -> None:
        if self._path is None:
            return
        tmp = self._path.with_suffix(".tmp")
        body = "".join(json.dumps({"at": _iso(m.at), "reason": m.reason and m.reason.value, "detail": m.detail})
                       + "\n" for m in self._marks)  # fmt: skip
        try:
            tmp.write_text(body, encoding="utf-8")
            tmp.replace(self._path)
            self._lines = len(self._marks)
        except OSError as exc:
            log.warning("cannot keep the camera's state in %s: %s", self._path, exc)

    def recording(self, at: dt.datetime) -> None:
        """Media of a new run arrived at ``at``."""
        self.mark(at, None)

    def marks(self) -> tuple[Mark, ...]:
        """Every mark kept, oldest first."""
        with self._lock:
            return tuple(self._marks)

    def forget_before(self, at: dt.datetime) -> None:
        """Drop the marks superseded before ``at`` (logged time needs no explanation any more);
        the one in force at ``at`` stays."""
        with self._lock:
            keep = next((i for i in range(len(self._marks) - 1, -1, -1) if self._marks[i].at <= at), 0)
            del self._marks[:keep]
            if keep or self._lines > 2 * len(self._marks) + 16:  # dropped marks, or many detail updates
                self._rewrite()

    def explain(self, start: dt.datetime, end: dt.datetime, tolerance: float) -> list[Piece]:
        """The pieces of ``[start, end)``, each with the reason that covered it (see the module
        docstring). Never empty when ``end > start``."""
        if end <= start:
            return []
        marks = self.marks()
        cuts = sorted({start, end, *(m.at for m in marks if start < m.at < end)})
        if self.started_at is not None and start < self.started_at < end:
            cuts = sorted({*cuts, self.started_at})
        raw = [self._piece(a, b, marks) for a, b in itertools.pairwise(cuts)]
        return _merge(raw, tolerance)

    def _piece(self, a: dt.datetime, b: dt.datetime, marks: tuple[Mark, ...]) -> Piece:
        in_force = next((m for m in reversed(marks) if m.at <= a), None)
        if in_force is None and self.started_at is not None and a < self.started_at:
            why = f"{NOT_RUNNING} (it started at {_iso(self.started_at)})"
            return Piece(a, b, RecorderGapReason.RECORDER_STOPPED, why)
        if in_force is not None and in_force.reason is not None:
            return Piece(a, b, in_force.reason, in_force.detail)
        following = next((m for m in marks if m.at > a and m.reason is not None), None)
        if following is not None and following.reason is not None:
            return Piece(a, b, following.reason, following.detail)
        return Piece(a, b, RecorderGapReason.RECORDER_STOPPED, NOT_RUNNING)


def _merge(pieces: list[Piece], tolerance: float) -> list[Piece]:
    """Short pieces join a neighbour; neighbours with one reason become one piece."""
    out: list[Piece] = []
    for piece in pieces:
        if out and piece.seconds <= tolerance:
            out[-1] = replace(out[-1], end=piece.end)
        elif out and out[-1].seconds <= tolerance and len(out) == 1:
            out[-1] = replace(piece, start=out[-1].start)
        elif out and out[-1].reason is piece.reason:
            out[-1] = replace(out[-1], end=piece.end, detail=_join(out[-1].detail, piece.detail))
        else:
            out.append(piece)
    return out


def _join(first: str, then: str) -> str:
    if not first or then in ("", first):
        return first or then
    return f"{first}; then {then}"
