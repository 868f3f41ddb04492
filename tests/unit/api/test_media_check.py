"""The media link's body is checked against the logged hash while it streams (api.routes.media)."""

from __future__ import annotations

import hashlib

import pytest

from archive.api.routes.media import checked_chunks
from archive.search.model import SegmentRef

BODY = [b"a" * 1000, b"b" * 1000, b"c" * 10]


def _ref(body: bytes) -> SegmentRef:
    return SegmentRef(camera_id="cam-1", seq=4, bucket="m", object_key="k", version_id="v",
                      sha256=hashlib.sha256(body).hexdigest(), size=len(body), start_us=0, end_us=1, duration_us=1,
                      container="mpegts", codec="h264", width=None, height=None, partial=False, pruned=False)


def test_a_matching_body_is_sent_whole() -> None:
    assert b"".join(checked_chunks(iter(BODY), _ref(b"".join(BODY)))) == b"".join(BODY)


@pytest.mark.parametrize("stored", [[b"a" * 1000, b"X" * 1000, b"c" * 10], [b"a" * 1000, b"b" * 1000]])
def test_a_body_that_differs_from_the_log_is_cut_before_its_end(stored: list[bytes]) -> None:
    sent: list[bytes] = []
    with pytest.raises(OSError, match="stored bytes differ from the logged ones"):
        sent.extend(checked_chunks(iter(stored), _ref(b"".join(BODY))))
    assert len(b"".join(sent)) < len(b"".join(stored))  # the client never has the whole (wrong) body
