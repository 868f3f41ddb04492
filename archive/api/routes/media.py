"""``GET /play/segment``: the stored bytes of one segment, for a signed media link.

No bearer token: a browser's ``<video>`` or hls.js on another machine fetches the links of a
playlist as they are. The link (:mod:`archive.api.media_links`) was minted by the playback routes
for a user with the ``playback`` permission who may see the camera (that minting is audited); it
names one stored version and expires within ``api.presign_seconds``. A link that does not verify,
or has expired, is 403; a segment pruned (or re-stored) since is 404. The bytes come from the store
through the API process, so the store itself may stay on loopback.

Every fetch through a valid link is recorded in the audit trail before a byte is sent: action
``media.fetch`` by the user the link was issued to (``by``), from the client's address (trusted
proxies only), naming the camera, segment, stored version and object key; the entry is sealed
(covered by a signed head) first. If it cannot be written, the answer is 503 and nothing is sent.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Iterator
from typing import Annotated, Any

from litestar import Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter
from litestar.response import Stream

from archive.api.context import client_ip
from archive.api.deps import ApiDeps
from archive.api.media_links import PLAY_PATH, MediaLinks
from archive.api.ports import MediaStore
from archive.audit.entry import AuditRecord
from archive.errors import NotFoundError
from archive.search.model import SegmentRef

__all__ = ["checked_chunks", "routes"]

log = logging.getLogger(__name__)

Value = Annotated[str | None, QueryParameter(max_length=512, description="as minted; see the playlist")]
FETCH = "media.fetch"
_TYPES = {"mpegts": "video/mp2t", "mp4": "video/mp4", "matroska": "video/x-matroska"}


def content_type(ref: SegmentRef) -> str:
    """The HTTP media type of a segment's container (``application/octet-stream`` when unknown)."""
    return _TYPES.get(ref.container, "application/octet-stream")


def checked_chunks(chunks: Iterator[bytes], ref: SegmentRef) -> Iterator[bytes]:
    """``chunks`` as they come, hashed on the way; the last chunk is held back until the whole body
    matched the logged SHA-256 and size. On a mismatch nothing more is sent and the stream ends with
    an error, so the client gets fewer bytes than ``Content-Length`` promised and never a whole
    body that differs from what the log vouches for (the store's copy is damaged or replaced)."""
    digest, size, held = hashlib.sha256(), 0, None
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if held is not None:
            yield held
        held = chunk
    if size != ref.size or digest.hexdigest() != ref.sha256:
        log.error("segment %s of %s: the stored bytes (%d bytes, sha256 %s) do not match the log (%d bytes, %s); "
                  "the download was cut short", ref.seq, ref.camera_id, size, digest.hexdigest(), ref.size,
                  ref.sha256)  # fmt: skip
        raise OSError(f"segment {ref.seq} of {ref.camera_id}: stored bytes differ from the logged ones")
    if held is not None:
        yield held


def routes(deps: ApiDeps, store: MediaStore) -> list[HTTPRouteHandler]:
    """The link-serving handler bound to ``deps`` and the store."""
    links, search = MediaLinks(deps.media_key), deps.search

    @get(PLAY_PATH, sync_to_thread=True, include_in_schema=True,
         summary="One segment's stored bytes, for a signed short-lived link of a playlist or segment URL")  # fmt: skip
    def play_segment(request: Request[Any, Any, Any], camera: Value = None, seq: Value = None, version: Value = None,
                     exp: Value = None, by: Value = None, sig: Value = None) -> Stream:  # fmt: skip
        claim = links.verify({"camera": camera or "", "seq": seq or "", "version": version or "", "exp": exp or "",
                              "by": by or "", "sig": sig or ""})  # fmt: skip
        ref = search.stored_segment(claim.camera_id, claim.seq)
        if ref.pruned or (ref.version_id or "") != claim.version_id:
            raise NotFoundError(f"the media of segment {claim.seq} of {claim.camera_id} is no longer stored "
                                "(deleted by retention)")  # fmt: skip
        deps.audit.record(AuditRecord(  # before a byte is sent; raises (503) when it cannot be written or sealed
            at_us=time.time_ns() // 1000, ip=client_ip(request.scope, deps.settings.trusted_proxies),
            action=FETCH, method="GET", path=PLAY_PATH, status=200, actor=claim.holder or None, agency=None,
            owner=None, role=None, token=None, target={"camera": claim.camera_id, "seq": str(claim.seq)},
            detail={"link_holder": claim.holder or "unknown (link minted without a holder)",
                    "version_id": claim.version_id, "object_key": ref.object_key, "sha256": ref.sha256}))  # fmt: skip
        chunks: Iterator[bytes] = store.open(ref.bucket, ref.object_key, ref.version_id)
        first = next(chunks, b"")  # a store error is answered (503) before the headers are sent
        return Stream(checked_chunks(itertools.chain((first,), chunks), ref), media_type=content_type(ref),
                      headers={"Content-Length": str(ref.size), "Cache-Control": "private, no-store",
                               "X-Segment-SHA256": ref.sha256})  # fmt: skip

    return [play_segment]
