"""The derived working copy of a camera: its exported segments joined into one MP4 by
ffmpeg's concat demuxer with stream copy (no re-encoding), for people to watch.

It is labelled as derived in its metadata, the manifest and the report, and hashed like every
other file, but it is not evidence: the native segments are. Gaps between segments are not
represented in it (the concat demuxer joins segments back to back); the report lists them.

The still frame of a camera is the first keyframe of its first exported segment, decoded by
ffmpeg into a JPEG, likewise derived and hashed, for the report (EXPORT-SPEC.md 4).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.errors import ToolError

__all__ = ["Still", "WorkingCopy", "make_still", "make_working_copy"]


@dataclass(frozen=True)
class WorkingCopy:
    """The result for one camera: ``path`` on success, else ``error``."""

    camera_id: str
    path: Path | None
    error: str | None
    seconds: float


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


def make_working_copy(ffmpeg: str, camera_id: str, segments: Sequence[Path], out: Path, *, label: str,
                      timeout_s: float = 3600.0) -> WorkingCopy:  # fmt: skip
    """Join ``segments`` (in order) into ``out`` (MP4); never raises (errors are returned,
    the package is built without this camera's working copy)."""
    start = time.monotonic()
    if not segments:
        return WorkingCopy(camera_id, None, "no segments to join", 0.0)
    listing = out.with_suffix(".ffconcat")
    try:
        listing.write_text("ffconcat version 1.0\n" + "".join(f"file {_quote(p)}\n" for p in segments),
                           encoding="utf-8")  # fmt: skip
        cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "concat", "-safe", "0",
               "-i", str(listing), "-map", "0:v:0", "-map", "0:a?", "-c", "copy", "-metadata", f"title={label}",
               "-metadata", f"comment={label}", "-f", "mp4", "-y", str(out)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0 or not out.is_file():
            raise ToolError(f"ffmpeg exited {done.returncode}: {done.stderr.strip()[-500:]}")
    except (OSError, subprocess.SubprocessError, ToolError) as exc:
        return WorkingCopy(camera_id, None, str(exc), time.monotonic() - start)
    finally:
        listing.unlink(missing_ok=True)
    return WorkingCopy(camera_id, out, None, time.monotonic() - start)


@dataclass(frozen=True)
class Still:
    """A camera's still frame: ``path`` on success, else ``error``; ``seq`` the segment it is from."""

    camera_id: str
    seq: int
    path: Path | None
    error: str | None


def make_still(ffmpeg: str, camera_id: str, seq: int, segment: Path, out: Path, *,
               timeout_s: float = 120.0) -> Still:  # fmt: skip
    """The first keyframe of ``segment`` (the camera's first exported segment, log entry ``seq``)
    as a JPEG at ``out``, decoded by ffmpeg: a derived picture for people, not evidence. Never
    raises (errors are returned; the package is built without it)."""
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-skip_frame", "nokey", "-i", str(segment),
           "-map", "0:v:0", "-frames:v", "1", "-q:v", "3", "-f", "image2", "-c:v", "mjpeg", "-y", str(out)]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            raise ToolError(f"ffmpeg exited {done.returncode}: {done.stderr.strip()[-500:]}")
    except (OSError, subprocess.SubprocessError, ToolError) as exc:
        return Still(camera_id, seq, None, str(exc))
    return Still(camera_id, seq, out, None)
