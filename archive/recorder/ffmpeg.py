"""The ffmpeg command line of one camera's recorder: one process, stream copy, segment muxer.

Container: **MPEG-TS** (``.ts``), chosen by experiment (ffmpeg 9.0.2 from imageio-ffmpeg and
Debian's 5.1, GStreamer 1.22 RTSP sources, see the recorder's README section):

* B-frames over RTSP. The first packet ffmpeg's RTSP demuxer hands out for such a stream has
  neither PTS nor DTS (has_b_frames > 0, so the DTS cannot be derived yet). The MPEG-TS muxer
  refuses that ("first pts and dts value must be set", exit 183). ``-fflags +genpts`` does not
  help (at demux time the DTS is missing too). The bitstream filter
  ``setts=pts=if(eq(PTS,NOPTS),DTS,PTS)`` runs *after* ffmpeg's stream copy has guessed the DTS
  and gives a packet without a PTS its DTS. It rewrites timestamps of PTS-less packets only (in
  practice the first one to three packets after connecting), never payload bytes. With it, H.264
  and H.265 with 2 B-frames record correctly; without it both fail.
* Fragmented MP4 records B-frame streams without the filter, but (a) after a resolution change
  every later segment carries the *old* size in its sample description (``avc1 640x360`` while the
  frames are 1280x720; only decoders that trust in-band SPS show them right), (b) it cannot hold
  G.711 (``pcm_mulaw``) audio, common on CCTV cameras: the mp4 muxer refuses it and nothing at all
  is recorded, while MPEG-TS keeps those bytes as a private data stream, and (c) a fragment stays
  in memory until the next keyframe, so a crash loses up to a GOP; a truncated MPEG-TS file
  stays readable up to its last complete 188-byte packet.
* MPEG-TS is self-describing per packet (SPS/PPS in band): each segment decodes alone, resolution
  changes are reported correctly by ffprobe, and H.265 needs no ``hvc1``/``hev1`` tag decision.

Other choices, also measured:

* No ``-segment_atclocktime``: cuts follow the media clock (``-segment_time``), so segment
  boundaries depend only on the camera's stream, not on recorder load or a host clock step. With
  clock-time cutting and a camera whose audio track delivers nothing, ffmpeg's interleaving
  delayed the video by 10 s and a 5 s setting produced an 11 s segment. The supervisor's stall
  watchdog bounds segment length in wall time instead.
* ``-max_interleave_delta 1000000``: a declared but silent audio track otherwise holds video back
  for 10 s (first data after 14.3 s instead of 4.5 s on such a camera).
* No ``flush_packets=1`` by default (``RecordingSpec.flush_packets`` turns it on): the segment
  file then grows in 256 KiB steps (about 1 s of a 2 Mbit/s camera) instead of packet by packet.
  Measured side by side on 8 cameras for 120 s, the per-packet ``write`` costs ffmpeg 13 % more
  CPU (0.314 against 0.278 CPU-s per camera-minute). What it protected is kept otherwise: when
  the recorder dies, its guardian process (``archive.recorder.guardian``) sends ffmpeg one SIGTERM,
  on which ffmpeg writes out its buffer, closes the segment and lists it: a recorder crash loses
  nothing.
  Only ffmpeg's own abrupt death (SIGKILL, a crash) now loses the unwritten buffer; that segment is
  ingested as partial and the lost tail lies inside the gap logged after it. A power failure loses
  the page cache either way (neither setting calls ``fsync``).
* Index-based names ``<run>-%06d.ts`` where ``<run>`` is a UTC timestamp unique per ffmpeg
  process: sortable, never reused across restarts, no strftime one-second collisions.
* ``-segment_list <run>.csv -segment_list_type csv``: ffmpeg appends ``name,start,end`` when a
  segment is closed, so the list is the "finished" signal that survives a crash.
* ``-timeout 5000000`` (RTSP socket I/O, microseconds): a frozen camera ends ffmpeg after ~6 s
  instead of never.
* The camera's own clock (SPEC.md 2.2 ``camera_start``): one more output of the video's key frames
  only (``noise=drop=not(key)`` after the same ``setts``), a ``tee`` into ``framecrc`` and
  fragmented MP4 with ``write_prft=wallclock``, each into a pipe the recorder reads
  (:mod:`archive.recorder.camera_clock` says why both are needed), flushed per key frame. They
  carry no media the archive keeps. ``onfail=ignore``: with two plain outputs, a pipe whose reader
  had gone ended the whole ffmpeg at the next key frame (EPIPE, exit 224); the tee's slaves fail
  alone and the segments go on. Both ffmpeg 9 (imageio-ffmpeg) and Debian's 5.1 accept it.

Only :func:`build_argv` and :class:`RecordingSpec` are needed by callers; the argv is always a
list (never a shell string). Extra input options are checked against :data:`INPUT_OPTION_RULES`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import unquote, urlsplit

from archive.errors import Problem, ToolError, ValidationError
from archive.redact import scrub

CONTAINER: Final = "mpegts"
SEGMENT_SUFFIX: Final = ".ts"
MIN_SEGMENT_SECONDS: Final = 2
MAX_SEGMENT_SECONDS: Final = 60
DEFAULT_SEGMENT_SECONDS: Final = 10
DEFAULT_RTSP_TIMEOUT_US: Final = 5_000_000
MAX_INTERLEAVE_DELTA_US: Final = 1_000_000
#: ffmpeg's report period. Each report wakes the supervisor (at 1 s that was half its CPU), and it
#: is also how long ffmpeg may take to act on SIGTERM: its main loop waits this long between
#: looks at the signal flag (fftools ``transcode``: ``sch_wait(sch, stats_period, ...)``).
PROGRESS_PERIOD_S: Final = 2
#: Gives a packet without a PTS its DTS (see the module docstring); commas escaped for the bsf parser.
FILL_MISSING_PTS_BSF: Final = r"setts=pts=if(eq(PTS\,NOPTS)\,DTS\,PTS)"
#: The camera-clock output's filter: the same timestamps as the recording, key frames only, and the
#: run's very first packet (``n`` 0): its PTS tells how far the segment list's timeline (which the
#: segment muxer shifts when the first DTS is negative, B-frames) is from this output's.
KEY_FRAMES_BSF: Final = FILL_MISSING_PTS_BSF + r",noise=drop=not(key)*gt(n\,0)"
#: The track timescale of the camera-clock MP4 output (RTP's video clock rate)
CAMERA_CLOCK_TIMESCALE: Final = 90000

CAMERA_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
URL_SCHEMES: Final = frozenset({"rtsp", "rtsps"})


@dataclass(frozen=True)
class OptionRule:
    """How one allowed ffmpeg input option's value is checked.

    ``int``: a whole number in [minimum, maximum]; ``choice``: one of ``choices``; ``flags``:
    ``+a+b`` (or ``a+b``) with every flag in ``choices``; ``text``: printable ASCII, at most
    ``maximum`` characters.
    """

    kind: Literal["int", "choice", "flags", "text"]
    minimum: int = 0
    maximum: int = 0
    choices: frozenset[str] = frozenset()
    note: str = ""


def _int(lo: int, hi: int, note: str) -> OptionRule:
    return OptionRule("int", minimum=lo, maximum=hi, note=note)


#: The input options a camera's configuration may add, and how their values are checked.
#: Deliberately absent: anything that rewrites timestamps (``-use_wallclock_as_timestamps``) or
#: drops data (``-fflags +discardcorrupt``), and every output or global option.
INPUT_OPTION_RULES: Final[Mapping[str, OptionRule]] = {
    "rtsp_transport": OptionRule("choice", choices=frozenset({"tcp", "udp", "http", "https"})),
    "rtsp_flags": OptionRule("flags", choices=frozenset({"prefer_tcp"})),
    "timeout": _int(100_000, 120_000_000, "RTSP socket I/O timeout in microseconds"),
    "analyzeduration": _int(0, 60_000_000, "microseconds"),
    "probesize": _int(32, 100_000_000, "bytes"),
    "fflags": OptionRule("flags", choices=frozenset({"genpts", "igndts", "nobuffer"})),
    "max_delay": _int(0, 10_000_000, "microseconds"),
    "reorder_queue_size": _int(0, 100_000, "packets"),
    "buffer_size": _int(0, 64 * 1024 * 1024, "bytes"),
    "thread_queue_size": _int(1, 100_000, "packets"),
    "min_port": _int(1024, 65535, "UDP port"),
    "max_port": _int(1024, 65535, "UDP port"),
    "allowed_media_types": OptionRule("flags", choices=frozenset({"video", "audio", "data"})),
    "user_agent": OptionRule("text", maximum=200),
}
#: Old spellings accepted and renamed (FFmpeg 5 renamed the RTSP ``stimeout`` to ``timeout``).
OPTION_ALIASES: Final[Mapping[str, str]] = {"stimeout": "timeout"}

InputOptions = tuple[tuple[str, str], ...]


def _check_value(name: str, value: str, rule: OptionRule) -> str | None:
    """The problem with ``value`` for option ``name``, or None when it is acceptable."""
    if rule.kind == "int":
        if not re.fullmatch(r"[0-9]+", value):
            return f"-{name} needs a whole number ({rule.note}), not {value!r}"
        if not rule.minimum <= int(value) <= rule.maximum:
            return f"-{name} must be between {rule.minimum} and {rule.maximum} ({rule.note}), not {value}"
        return None
    if rule.kind == "choice":
        if value not in rule.choices:
            return f"-{name} must be one of {', '.join(sorted(rule.choices))}, not {value!r}"
        return None
    if rule.kind == "flags":
        flags = [f for f in re.split(r"[+]", value.lstrip("+")) if f]
        bad = [f for f in flags if f not in rule.choices]
        if not flags or bad or not re.fullmatch(r"\+?[a-z_]+(\+[a-z_]+)*", value):
            allowed = ", ".join(f"+{c}" for c in sorted(rule.choices))
            return f"-{name} accepts only the flags {allowed}, not {value!r}"
        return None
    if not value or len(value) > rule.maximum or not (value.isascii() and value.isprintable()):
        return f"-{name} must be 1 to {rule.maximum} printable ASCII characters"
    return None


def validate_input_options(
    options: Mapping[str, str | int] | Iterable[tuple[str, str | int]], *, where: str = "input_options"
) -> InputOptions:
    """Check user-supplied ffmpeg input options against :data:`INPUT_OPTION_RULES`.

    Names may be given with or without the leading dash; ``stimeout`` is renamed ``timeout``.
    Returns them normalized (name without dash, value as str) in the given order.
    Raises :class:`ValidationError` listing every unknown option, bad value or duplicate.
    """
    pairs = list(options.items()) if isinstance(options, Mapping) else list(options)
    problems: list[Problem] = []
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw_name, raw_value in pairs:
        name = str(raw_name)
        name = name[1:] if name.startswith("-") else name
        name = OPTION_ALIASES.get(name, name)
        here = f"{where}.{raw_name}"
        rule = INPUT_OPTION_RULES.get(name)
        if rule is None:
            allowed = ", ".join(f"-{n}" for n in INPUT_OPTION_RULES)
            problems.append(Problem(here, f"-{name} is not an allowed input option (allowed: {allowed})"))
            continue
        if isinstance(raw_value, bool) or not isinstance(raw_value, str | int):
            problems.append(Problem(here, f"-{name} needs a string or integer value"))
            continue
        value = str(raw_value)
        problem = _check_value(name, value, rule)
        if problem is not None:
            problems.append(Problem(here, problem))
        elif name in seen:
            problems.append(Problem(here, f"-{name} is given more than once"))
        else:
            seen.add(name)
            out.append((name, value))
    if problems:
        raise ValidationError(problems)
    return tuple(out)


def validate_url(url: str, *, where: str = "url") -> None:
    """Raise :class:`ValidationError` unless ``url`` is an rtsp:// or rtsps:// URL with a host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ValidationError([Problem(where, f"not a valid URL: {exc}")]) from exc
    if parts.scheme not in URL_SCHEMES or not host:
        raise ValidationError([Problem(where, "must be an rtsp:// or rtsps:// URL with a host")])
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValidationError([Problem(where, "must not contain spaces or control characters")])


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs and status; :func:`archive.redact.scrub`)."""
    return scrub(url)


@dataclass(frozen=True)
class RecordingSpec:
    """What to record from one camera. Validated on construction.

    ``input_options`` must already be normalized (see :meth:`create` for the friendly form).
    Raises :class:`ValidationError` for a bad camera id, URL, segment length or option.
    """

    camera_id: str
    url: str
    segment_seconds: int = DEFAULT_SEGMENT_SECONDS
    input_options: InputOptions = ()
    audio: bool = True
    enabled: bool = True
    flush_packets: bool = False
    #: read the camera's own time from its RTCP sender reports (SPEC.md 2.2 ``camera_start``)
    camera_clock: bool = False
    #: epoch of the writer claim this recorder holds on the camera (in run ids and object keys)
    writer_epoch: int | None = None

    def __post_init__(self) -> None:
        where = f"cameras.{self.camera_id}"
        problems: list[Problem] = []
        if not CAMERA_ID_RE.fullmatch(self.camera_id):
            problems.append(
                Problem(
                    f"cameras.{self.camera_id!r}",
                    "camera id must be 1-64 characters: letters, digits, '.', '_' or '-', starting "
                    "with a letter or digit",
                )
            )
        if isinstance(self.segment_seconds, bool) or not (
            isinstance(self.segment_seconds, int) and MIN_SEGMENT_SECONDS <= self.segment_seconds <= MAX_SEGMENT_SECONDS
        ):
            problems.append(
                Problem(
                    f"{where}.segment_seconds",
                    f"must be a whole number of seconds from {MIN_SEGMENT_SECONDS} to {MAX_SEGMENT_SECONDS}",
                )
            )
        if self.writer_epoch is not None and (isinstance(self.writer_epoch, bool) or not isinstance(
                self.writer_epoch, int) or self.writer_epoch < 1):  # fmt: skip
            problems.append(Problem(f"{where}.writer_epoch", "must be a positive whole number"))
        for check in (
            lambda: validate_url(self.url, where=f"{where}.url"),
            lambda: validate_input_options(self.input_options, where=f"{where}.input_options"),
        ):
            try:
                check()
            except ValidationError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ValidationError(problems)

    @classmethod
    def create(
        cls,
        camera_id: str,
        url: str,
        *,
        segment_seconds: int = DEFAULT_SEGMENT_SECONDS,
        input_options: Mapping[str, str | int] | Iterable[tuple[str, str | int]] = (),
        audio: bool = True,
        enabled: bool = True,
        flush_packets: bool = False,
        writer_epoch: int | None = None,
        camera_clock: bool = False,
    ) -> RecordingSpec:
        """Build a spec from configuration values. Raises :class:`ValidationError`."""
        options = validate_input_options(input_options, where=f"cameras.{camera_id}.input_options")
        return cls(camera_id, url, segment_seconds, options, audio, enabled, flush_packets, camera_clock, writer_epoch)

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return scrub(self.url, self.secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password inside :attr:`url`, decoded and as written (empty without one): text
        ffmpeg prints about this camera is scrubbed of these (:mod:`archive.redact`)."""
        try:
            password = urlsplit(self.url).password
        except ValueError:
            return ()
        return () if not password else tuple(dict.fromkeys((unquote(password), password)))


def build_argv(
    spec: RecordingSpec, segment_pattern: Path, segment_list: Path, *, ffmpeg: str,
    camera_clock_fds: tuple[int, int] | None = None,
) -> list[str]:  # fmt: skip
    """The complete ffmpeg argv recording ``spec`` into ``segment_pattern`` (must contain ``%06d``).

    ffmpeg writes progress (``key=value`` lines) to stdout every :data:`PROGRESS_PERIOD_S` seconds
    and its log, each line prefixed with its level, to stderr. With ``camera_clock_fds`` (and
    ``spec.camera_clock``) it also writes the key frames' ``framecrc`` lines to the first file
    descriptor and their fragmented MP4 with ``prft`` boxes to the second (module docstring).
    Raises :class:`ValueError` for a pattern without ``%06d``.
    """
    if "%06d" not in segment_pattern.name or segment_pattern.name.count("%") != 1:
        raise ValueError(f"segment pattern must contain exactly one %06d: {segment_pattern}")
    given = dict(spec.input_options)
    inputs: list[str] = [
        "-rtsp_transport", given.pop("rtsp_transport", "tcp"),
        "-timeout", given.pop("timeout", str(DEFAULT_RTSP_TIMEOUT_US)),
    ]  # fmt: skip
    for name, value in given.items():
        inputs += [f"-{name}", value]
    maps = ["-map", "0:v"] + (["-map", "0:a?"] if spec.audio else [])
    return [
        ffmpeg,
        "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info",
        "-progress", "pipe:1", "-stats_period", str(PROGRESS_PERIOD_S),
        *inputs,
        "-i", spec.url,
        *maps,
        "-c", "copy",
        "-bsf:v", FILL_MISSING_PTS_BSF,
        "-max_interleave_delta", str(MAX_INTERLEAVE_DELTA_US),
        "-f", "segment",
        "-segment_format", CONTAINER,
        *(["-segment_format_options", "flush_packets=1"] if spec.flush_packets else []),
        "-segment_time", str(spec.segment_seconds),
        "-reset_timestamps", "1",
        "-segment_list", str(segment_list),
        "-segment_list_type", "csv",
        str(segment_pattern),
        *(_camera_clock_outputs(*camera_clock_fds) if camera_clock_fds is not None and spec.camera_clock else []),
    ]  # fmt: skip


def _camera_clock_outputs(framecrc_fd: int, mp4_fd: int) -> list[str]:
    """The key-frame output that carries the camera's sender-report time (module docstring): one
    ``tee`` into both pipes, each slave ``onfail=ignore`` so that a pipe nobody reads any more
    (the recorder died) never ends the recording; separate outputs did (EPIPE ended ffmpeg). The
    third slave, ``null``, cannot fail: a tee whose slaves all failed fails, and ends ffmpeg too."""
    slaves = (f"[f=framecrc:onfail=ignore:flush_packets=1]pipe:{framecrc_fd}"
              f"|[f=mp4:onfail=ignore:movflags=+frag_keyframe+empty_moov:write_prft=wallclock"
              f":video_track_timescale={CAMERA_CLOCK_TIMESCALE}:flush_packets=1]pipe:{mp4_fd}"
              "|[f=null]-")  # fmt: skip
    return ["-map", "0:v:0", "-c", "copy", "-bsf:v", KEY_FRAMES_BSF, "-f", "tee", slaves]


def find_ffmpeg(explicit: str | os.PathLike[str] | None = None) -> str:
    """The ffmpeg to run: ``explicit`` if given, else imageio-ffmpeg's bundled binary, else PATH.

    Raises :class:`ToolError` when none is found or ``explicit`` is not an executable file.
    """
    if explicit is not None:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise ToolError(f"ffmpeg {path} is not an executable file")
    try:
        import imageio_ffmpeg

        bundled = str(imageio_ffmpeg.get_ffmpeg_exe())
        if Path(bundled).is_file():
            return bundled
    except (ImportError, RuntimeError):
        pass
    found = shutil.which("ffmpeg")
    if found is None:
        raise ToolError("ffmpeg was not found: install imageio-ffmpeg or Debian's ffmpeg package")
    return found
