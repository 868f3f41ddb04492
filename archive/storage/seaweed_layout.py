"""Where a SeaweedFS cluster keeps each volume's copies: the master's ``volume.list`` read as values."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["VolumeCopies", "parse_volume_list"]

_RACK = re.compile(r"^\s*Rack (\S+)")
_NODE = re.compile(r"^\s*DataNode (\S+)")
_VOLUME = re.compile(r"^\s*volume Id:(\d+), .*?ReplicaPlacement:(\d+), Collection:([^,]*),.*?FileCount:(\d+)")


@dataclass(frozen=True)
class VolumeCopies:
    """One volume: its collection (the bucket), replica placement, and the (rack, node, file count)
    of each copy the master knows."""

    volume_id: int
    collection: str
    placement: str
    copies: tuple[tuple[str, str, int], ...]

    @property
    def racks(self) -> tuple[str, ...]:
        """The racks holding a copy, sorted."""
        return tuple(sorted(c[0] for c in self.copies))


def parse_volume_list(text: str) -> list[VolumeCopies]:
    """The volumes in the output of ``weed shell`` ``volume.list``, sorted by id (lines it does not
    know are skipped; never raises)."""
    rack = node = ""
    found: dict[int, tuple[str, str, list[tuple[str, str, int]]]] = {}
    for line in text.splitlines():
        if m := _RACK.match(line):
            rack = m.group(1)
        elif m := _NODE.match(line):
            node = m.group(1)
        elif m := _VOLUME.match(line):
            vid = int(m.group(1))
            entry = found.setdefault(vid, (m.group(3), m.group(2), []))
            entry[2].append((rack, node, int(m.group(4))))
    return [VolumeCopies(vid, col, placement, tuple(copies)) for vid, (col, placement, copies) in sorted(found.items())]
