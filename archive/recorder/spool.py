"""The per-camera spool directory: where ffmpeg writes segments until they are safely stored.

Layout of ``<root>/<camera_id>/``::

    <run>-000000.ts  <run>-000001.ts ...   segments of one ffmpeg process ("run")
    <run>.csv                              ffmpeg's segment list: "name,start,end" per closed segment
    <run>.pid                              the run's ffmpeg process id (orphan detection)
    <run>.camtime                          the camera's time of each key frame, from its RTCP sender
                                           reports ("<pts> <unix_us>" or "<pts> -"; archive.recorder.camera_clock)

``<run>`` is the UTC start time of that ffmpeg process (``20250101T120000123Z``), so names sort in
recording order and are never reused. A segment is

* **finished** when its run's list names it (ffmpeg appends the line when it closes the file; a
  graceful ffmpeg exit closes and lists the last one too),
* **in progress** when it is not listed and its run is live (the supervisor says which are),
* **partial** when it is not listed and its run is not live: ffmpeg was killed mid-segment (or
  the recorder crashed). Partial files are ingested as what they are, never dropped.

Nothing here deletes a segment except :meth:`CameraSpool.remove_ingested`, which needs the size the
object store confirmed for that very file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from archive.errors import ConfigError, IntegrityError
from archive.recorder.ffmpeg import SEGMENT_SUFFIX

# A run id is the UTC start (ms) and, for a run recorded under a writer claim, ``e<epoch>`` of that
# claim: the epoch goes into the segment file names and so into their object keys, so two claims
# (runs, processes, nodes) never produce the same key. Run ids without an epoch stay readable.
RUN_ID_RE: Final = re.compile(r"^\d{8}T\d{9}Z(?:e\d{1,18})?$")
SEGMENT_RE: Final = re.compile(
    r"^(?P<run>\d{8}T\d{9}Z(?:e\d{1,18})?)-(?P<index>\d{6})" + re.escape(SEGMENT_SUFFIX) + "$"
)
DEFAULT_ALARM_FRACTION: Final = 0.8


class FileState(StrEnum):
    """Where a spool segment stands."""

    FINISHED = "finished"
    IN_PROGRESS = "in_progress"
    PARTIAL = "partial"


@dataclass(frozen=True)
class RunPaths:
    """The files of one ffmpeg run in a camera's spool directory."""

    directory: Path
    run_id: str

    @property
    def segment_pattern(self) -> Path:
        """The ffmpeg output pattern (``%06d`` is the segment index within the run)."""
        return self.directory / f"{self.run_id}-%06d{SEGMENT_SUFFIX}"

    @property
    def segment_list(self) -> Path:
        """ffmpeg's CSV segment list of this run."""
        return self.directory / f"{self.run_id}.csv"

    @property
    def pid_file(self) -> Path:
        """Holds the run's ffmpeg process id while it may be alive."""
        return self.directory / f"{self.run_id}.pid"

    @property
    def camera_times(self) -> Path:
        """The camera's time of each key frame of this run (:mod:`archive.recorder.camera_clock`)."""
        return self.directory / f"{self.run_id}.camtime"

    def segment_path(self, index: int) -> Path:
        """Path of segment ``index`` of this run."""
        return self.directory / f"{self.run_id}-{index:06d}{SEGMENT_SUFFIX}"


@dataclass(frozen=True)
class SpoolFile:
    """One segment file as seen by one scan.

    ``mtime`` is the recorder's wall clock (UTC) at the file's last write: for a finished segment,
    the moment ffmpeg closed it, i.e. the segment's end boundary. ``list_start``/``list_end`` are
    ffmpeg's media times (seconds since the run's first packet) from the segment list.
    """

    path: Path
    run_id: str
    index: int
    size: int
    mtime_ns: int
    state: FileState
    list_start: float | None = None
    list_end: float | None = None

    @property
    def mtime(self) -> dt.datetime:
        """The last write, UTC (microsecond precision)."""
        return _utc_from_ns(self.mtime_ns)

    @property
    def name(self) -> str:
        """The file name."""
        return self.path.name

    @property
    def ready(self) -> bool:
        """True when the file will not change any more (finished or partial)."""
        return self.state is not FileState.IN_PROGRESS


@dataclass(frozen=True)
class SpoolUsage:
    """Bytes held in one camera's spool against its limit."""

    camera_id: str
    bytes_used: int
    segments: int
    max_bytes: int
    alarm_bytes: int

    @property
    def fraction(self) -> float:
        """Used share of ``max_bytes`` (may exceed 1.0)."""
        return self.bytes_used / self.max_bytes if self.max_bytes else 0.0

    @property
    def alarm(self) -> bool:
        """At or above the alarm threshold."""
        return self.bytes_used >= self.alarm_bytes

    @property
    def full(self) -> bool:
        """At or above the limit: recording must pause (nothing un-ingested may be deleted)."""
        return self.bytes_used >= self.max_bytes


class SegmentList:
    """ffmpeg's CSV segment list of one run, read incrementally (ffmpeg only ever appends).

    Only complete lines count: a line being written when the recorder died is ignored (its
    segment then counts as partial). Thread-safe.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._entries: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def refresh(self) -> list[tuple[str, float, float]]:
        """Read what was appended since the last call; returns the new ``(name, start, end)`` entries.

        A missing file gives nothing. Raises :class:`OSError` for an unreadable one.
        """
        with self._lock:
            try:
                with self.path.open("rb") as fh:
                    if fh.seek(0, os.SEEK_END) < self._offset:  # rewritten: start over
                        self._offset, self._entries = 0, {}
                    fh.seek(self._offset)
                    data = fh.read()
            except FileNotFoundError:
                return []
            complete = data[: data.rfind(b"\n") + 1]
            self._offset += len(complete)
            new: list[tuple[str, float, float]] = []
            for row in csv.reader(io.StringIO(complete.decode("utf-8", "replace"))):
                try:
                    name, start, end = row[0], float(row[1]), float(row[2])
                except (IndexError, ValueError):
                    continue
                if len(row) == 3 and name not in self._entries:
                    self._entries[name] = (start, end)
                    new.append((name, start, end))
            return new

    def get(self, name: str) -> tuple[float, float] | None:
        """``(start, end)`` of a listed segment as of the last :meth:`refresh`, else None."""
        with self._lock:
            return self._entries.get(name)


def read_segment_list(path: Path) -> dict[str, tuple[float, float]]:
    """``{name: (start, end)}`` of a whole list file (see :class:`SegmentList`). Raises :class:`OSError`."""
    return {name: (start, end) for name, start, end in SegmentList(path).refresh()}


def _utc_from_ns(ns: int) -> dt.datetime:
    seconds, rest = divmod(ns, 1_000_000_000)
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC) + dt.timedelta(microseconds=rest // 1000)


class CameraSpool:
    """One camera's spool directory (see the module docstring for its layout and file states)."""

    def __init__(
        self, root: Path, camera_id: str, *, max_bytes: int, alarm_fraction: float = DEFAULT_ALARM_FRACTION
    ) -> None:
        """Raises :class:`ConfigError` for a non-positive limit or an alarm fraction outside (0, 1]."""
        if max_bytes <= 0:
            raise ConfigError(f"spool max_bytes for {camera_id} must be positive, not {max_bytes}")
        if not 0 < alarm_fraction <= 1:
            raise ConfigError(f"spool alarm fraction must be in (0, 1], not {alarm_fraction}")
        self.camera_id = camera_id
        self.directory = Path(root) / camera_id
        self.max_bytes = max_bytes
        self.alarm_bytes = int(max_bytes * alarm_fraction)
        self._lock = threading.Lock()
        self._lists: dict[str, SegmentList] = {}
        self._final: dict[str, tuple[int, int]] = {}  # name -> (size, mtime_ns) of files that cannot change

    def __repr__(self) -> str:
        return f"CameraSpool({str(self.directory)!r})"

    def ensure(self) -> None:
        """Create the directory (mode 0700). Raises :class:`ConfigError` when that fails."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create spool directory {self.directory}: {exc}") from exc

    def run_paths(self, run_id: str) -> RunPaths:
        """The paths of run ``run_id``."""
        return RunPaths(self.directory, run_id)

    def new_run(self, now: dt.datetime | None = None, *, writer_epoch: int | None = None) -> RunPaths:
        """Paths for a new ffmpeg run named after ``now`` (UTC) and the ``writer_epoch`` of the claim
        it records under (``e<epoch>`` suffix), unique in this directory.

        Raises :class:`ConfigError` when the directory cannot be created.
        """
        self.ensure()
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        taken = set(self.run_ids())
        while True:
            run_id = moment.strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"
            run_id += "" if writer_epoch is None else f"e{writer_epoch}"
            if run_id not in taken:
                return RunPaths(self.directory, run_id)
            moment += dt.timedelta(milliseconds=1)

    def run_ids(self) -> list[str]:
        """Every run with a segment, list, pid or camera-time file here, oldest first."""
        runs: set[str] = set()
        for name in self._names():
            match = SEGMENT_RE.match(name)
            stem = name.rsplit(".", 1)[0]
            if match:
                runs.add(match["run"])
            elif RUN_ID_RE.match(stem) and name.endswith((".csv", ".pid", ".camtime")):
                runs.add(stem)
        return sorted(runs)

    def _names(self) -> list[str]:
        try:
            with os.scandir(self.directory) as entries:
                return [entry.name for entry in entries]
        except FileNotFoundError:
            return []

    def _segment_list(self, run_id: str) -> SegmentList:
        """The run's list, brought up to date (read incrementally)."""
        with self._lock:
            seglist = self._lists.get(run_id)
            if seglist is None:
                seglist = self._lists[run_id] = SegmentList(self.run_paths(run_id).segment_list)
        seglist.refresh()
        return seglist

    def scan(self, live_runs: Collection[str] = ()) -> tuple[SpoolFile, ...]:
        """Every segment in recording order with its state. ``live_runs``: runs whose ffmpeg is alive.

        Files that can no longer change (finished, or partial of a dead run) are stat'ed once.
        """
        names = self._names()
        found: list[tuple[str, int, str]] = []
        for name in names:
            match = SEGMENT_RE.match(name)
            if match:
                found.append((match["run"], int(match["index"]), name))
        found.sort()
        lists = {run_id: self._segment_list(run_id) for run_id in {run for run, _, _ in found}}
        out: list[SpoolFile] = []
        for run_id, index, name in found:
            listed = lists[run_id].get(name)
            if listed is not None:
                state = FileState.FINISHED
            elif run_id in live_runs:
                state = FileState.IN_PROGRESS
            else:
                state = FileState.PARTIAL
            with self._lock:
                known = self._final.get(name) if state is not FileState.IN_PROGRESS else None
            if known is None:
                try:
                    st = (self.directory / name).stat()
                except FileNotFoundError:
                    continue
                known = (st.st_size, st.st_mtime_ns)
                if state is not FileState.IN_PROGRESS:
                    with self._lock:
                        self._final[name] = known
            start, end = listed if listed else (None, None)
            out.append(SpoolFile(self.directory / name, run_id, index, known[0], known[1], state, start, end))
        self._prune(names)
        return tuple(out)

    def _prune(self, names: Collection[str]) -> None:
        present = set(names)
        with self._lock:
            for name in [n for n in self._final if n not in present]:
                del self._final[name]

    def usage(self) -> SpoolUsage:
        """Bytes of every file in the directory (segments, lists, pid files). Thread-safe."""
        total = 0
        segments = 0
        try:
            with os.scandir(self.directory) as found:
                entries = list(found)
        except FileNotFoundError:
            entries = []
        for entry in entries:
            with self._lock:
                known = self._final.get(entry.name)
            if known is None:
                try:
                    known = (entry.stat(follow_symlinks=False).st_size, 0)
                except FileNotFoundError:
                    continue
            total += known[0]
            segments += bool(SEGMENT_RE.match(entry.name))
        return SpoolUsage(self.camera_id, total, segments, self.max_bytes, self.alarm_bytes)

    def remove_ingested(self, file: SpoolFile, *, stored_size: int) -> None:
        """Delete ``file`` after the store confirmed a copy of ``stored_size`` bytes.

        Raises :class:`IntegrityError` (and deletes nothing) when the file on disk no longer has
        the scanned size or the stored size differs: then the stored copy is not this file.
        """
        self.forget(file.name)
        try:
            size_now = file.path.stat().st_size
        except FileNotFoundError:
            return
        if not size_now == file.size == stored_size:
            raise IntegrityError(
                f"{file.path}: {size_now} bytes on disk, {file.size} when hashed, {stored_size} stored; not deleted"
            )
        file.path.unlink()

    def forget(self, name: str) -> None:
        """Drop what is remembered about a file (the next scan stats it again)."""
        with self._lock:
            self._final.pop(name, None)

    def forget_finished_runs(self, live_runs: Collection[str]) -> None:
        """Remove the list, pid and camera-time files of runs that are not live and have no segment left."""
        with_segments = {m["run"] for m in map(SEGMENT_RE.match, self._names()) if m}
        for run_id in self.run_ids():
            if run_id in live_runs or run_id in with_segments:
                continue
            paths = self.run_paths(run_id)
            paths.segment_list.unlink(missing_ok=True)
            paths.pid_file.unlink(missing_ok=True)
            paths.camera_times.unlink(missing_ok=True)
            with self._lock:
                self._lists.pop(run_id, None)
