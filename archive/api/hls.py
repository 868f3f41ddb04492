"""HLS media playlists (RFC 8216) of stored segments, each URL a short-lived signed API link.

A range ending in the future is a live playlist: ``#EXT-X-PLAYLIST-TYPE:EVENT`` and no
``#EXT-X-ENDLIST`` (RFC 8216 4.3.3.5), so the player reloads it and sees segments appended.

``#EXT-X-PROGRAM-DATE-TIME`` (UTC, milliseconds) before every segment ties the media to wall
time; ``#EXT-X-DISCONTINUITY`` marks a hole (a gap, pruned media, more than the tolerance
between segments), a partial segment or a change of codec or size. Pruned segments are not
listed; a comment says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from archive.search.intervals import TOLERANCE_US
from archive.search.model import SegmentRef
from archive.search.times import TimeFormatter

__all__ = ["MEDIA_TYPE", "build_playlist"]

MEDIA_TYPE = "application/vnd.apple.mpegurl"


def _pdt(t: TimeFormatter, us: int) -> str:
    text = t.utc(us)  # ...SS.ffffffZ -> ...SS.fffZ
    return text[:-4] + "Z"


def build_playlist(refs: Sequence[SegmentRef], urls: Sequence[str], t: TimeFormatter, *, camera_id: str,
                   start_us: int, end_us: int, live: bool = False) -> str:  # fmt: skip
    """The playlist text; ``urls[i]`` is the URL of ``refs[i]`` (ignored for pruned ones); ``live``:
    an EVENT playlist without an end (the range ends in the future). Raises nothing."""
    kept = [r for r in refs if not r.pruned]
    target = max((math.ceil(r.duration_us / 1e6 or (r.end_us - r.start_us) / 1e6) for r in kept), default=1)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{max(target, 1)}", "#EXT-X-MEDIA-SEQUENCE:0",
             f"#EXT-X-PLAYLIST-TYPE:{'EVENT' if live else 'VOD'}",
             f"# archive camera {camera_id} from {t.utc(start_us)} to {t.utc(end_us)}"]  # fmt: skip
    prev: SegmentRef | None = None
    broken = False
    for ref, url in zip(refs, urls, strict=True):
        if ref.pruned:
            lines.append(f"# seq {ref.seq} pruned by retention ({t.utc(ref.start_us)} - {t.utc(ref.end_us)})")
            broken = True
            continue
        if prev is not None and (broken or ref.start_us - prev.end_us > TOLERANCE_US or prev.partial
                                 or (ref.codec, ref.width, ref.height) != (prev.codec, prev.width, prev.height)):
            lines.append("#EXT-X-DISCONTINUITY")
        seconds = (ref.duration_us or (ref.end_us - ref.start_us)) / 1e6
        lines += [f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(t, ref.start_us)}", f"#EXTINF:{seconds:.3f},seq {ref.seq}", url]
        prev, broken = ref, False
    if not live:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
