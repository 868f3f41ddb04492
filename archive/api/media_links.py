"""Signed, short-lived media links served by the API itself (``GET /play/segment``).

A playlist or segment URL used to be a presigned URL of the object store, whose embedded
SeaweedFS listens on a random loopback port: no other machine could play it. Now every URL is
a link to the API's own address, minted only after the request's user was authorized for the
camera (``playback`` permission and camera scope), and valid for at most ``api.presign_seconds``:

    /play/segment?camera=<id>&seq=<n>&version=<store version id>&exp=<epoch s>&by=<user id>&sig=<hex>

``by`` names the user the link was issued to; ``sig`` is HMAC-SHA256 under the API's media-link
key over the other five values (so ``by`` cannot be changed either); the link is a bearer
credential for exactly that stored version of that segment until ``exp``, and every fetch through
it is recorded in the audit trail as ``media.fetch`` by that user before a byte is sent
(:mod:`archive.api.routes.media`). The key is 32
random bytes in ``<data_dir>/keys/media-links.key`` (0600, made at first use), shared by every
API worker process of the archive, so a link minted by one is served by another.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from archive.errors import ForbiddenError, SecretError
from archive.search.model import SegmentRef

__all__ = ["KEY_BYTES", "PLAY_PATH", "LinkClaim", "MediaLinks", "load_link_key"]

PLAY_PATH = "/play/segment"
KEY_BYTES = 32
_FIELDS = ("camera", "seq", "version", "exp", "by")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LinkClaim:
    """What a verified link names: the camera, the segment's entry number, the stored version, and
    the user it was issued to (``""``: minted without one)."""

    camera_id: str
    seq: int
    version_id: str
    holder: str = ""


class MediaLinks:
    """Mints and checks media links under one key (``now``: the clock, for tests)."""

    def __init__(self, key: bytes, *, now: Callable[[], datetime] = _utc_now) -> None:
        if len(key) < 16:
            raise SecretError("media-link key must be at least 16 bytes")
        self._key, self._now = key, now

    def _sig(self, camera: str, seq: str, version: str, exp: str, by: str) -> str:
        msg = "\n".join(("archive-media-link/2", camera, seq, version, exp, by)).encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def segment(self, ref: SegmentRef, life: timedelta, holder: str = "") -> str:
        """The link (path and query) to ``ref``'s stored bytes, valid for ``life``, issued to the
        user ``holder``. Raises nothing."""
        exp = str(int((self._now() + life).timestamp()))
        values = {"camera": ref.camera_id, "seq": str(ref.seq), "version": ref.version_id or "", "exp": exp,
                  "by": holder}  # fmt: skip
        return f"{PLAY_PATH}?{urlencode({**values, 'sig': self._sig(*values.values())})}"

    def verify(self, query: Mapping[str, str]) -> LinkClaim:
        """The claim of a link's query values.

        Raises ForbiddenError (403) for a missing value, a wrong signature or an expired link.
        """
        got = [query.get(k, "") for k in _FIELDS]
        sig = query.get("sig", "")
        if not all(got[:2]) or not got[3] or not sig:
            raise ForbiddenError("not a valid media link (camera, seq, version, exp and sig are required)")
        if not hmac.compare_digest(self._sig(*got).encode(), sig.encode()):
            raise ForbiddenError("not a valid media link (its signature does not match)")
        try:
            exp, seq = int(got[3]), int(got[1])
        except ValueError as exc:
            raise ForbiddenError("not a valid media link (seq and exp must be integers)") from exc
        if exp <= self._now().timestamp():
            raise ForbiddenError("this media link has expired: ask the API for a new playlist or URL")
        return LinkClaim(got[0], seq, got[2], got[4])


def load_link_key(path: Path) -> bytes:
    """The key in ``path``; made (32 random bytes, 0600, in a 0700 folder) when absent, atomically,
    so API workers starting together agree on one key.

    Raises SecretError when it cannot be read or made, or the file is not 32 bytes.
    """
    try:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
            try:
                os.link(tmp, path)  # fails when another process made it first: theirs wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"cannot read or create the media-link key {path}: {exc.strerror}") from exc
    if len(key) != KEY_BYTES:
        raise SecretError(f"the media-link key {path} is not {KEY_BYTES} bytes (damaged?)")
    return key
