"""The witness's decision on one ``add-checkpoint`` request (c2sp.org/tlog-witness), without HTTP.

In order: a body that does not parse is 400; an origin no ``[[log]]`` covers is 404; a checkpoint
with no valid signature by the log's keys is 403; an old size larger than the checkpoint is 400;
an old size other than the one the witness holds is 409 (the witness's size in the body); the
same size with another root is 409; a consistency proof that does not link the witness's root to
the checkpoint's is 422. Otherwise the new head is persisted (:class:`~.state.WitnessState`) and
then the cosignature line is answered with 200. Check and persist run under one lock, so two
requests can never roll the state back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from archive.errors import ConflictError
from archive.integrity import (
    Checkpoint,
    IntegrityError,
    MalformedError,
    ProofError,
    SignedNote,
    cosign,
    open_checkpoint,
    verify_consistency,
)

from .protocol import SIZE_TYPE, AddCheckpoint, format_size
from .settings import WitnessSettings
from .state import LogHead, WitnessState

__all__ = ["Reply", "WitnessService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type and body."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def error(cls, status: int, message: str) -> Reply:
        """A JSON ``{"error": message}`` answer."""
        return cls(status, "application/json", json.dumps({"error": message}).encode() + b"\n")


class WitnessService:
    """Cosigns checkpoints that extend what this witness saw (module docstring). Thread-safe."""

    def __init__(self, settings: WitnessSettings, state: WitnessState,
                 now: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.settings = settings
        self.state = state
        self._now = now
        self._lock = threading.Lock()

    def add_checkpoint(self, body: bytes) -> Reply:
        """Answer one request body (module docstring). Never raises for bad input; raises
        OSError only when the state cannot be persisted (then nothing is cosigned)."""
        try:
            req = AddCheckpoint.parse(body)
            note = SignedNote.parse(req.note)
            cp = Checkpoint.parse(note.text)
        except MalformedError as exc:
            return Reply.error(400, f"malformed request: {exc}")
        keys = self.settings.log_keys(cp.origin)
        if keys is None:
            return Reply.error(404, f"unknown log {cp.origin!r}: this witness does not accept it")
        try:
            open_checkpoint(note, keys, origin=cp.origin)
        except IntegrityError as exc:
            return Reply.error(403, f"the checkpoint is not signed by a key of log {cp.origin!r}: {exc}")
        if req.old_size > cp.size:
            return Reply.error(400, f"old size {req.old_size} is larger than the checkpoint's size {cp.size}")
        with self._lock:
            head = self.state.head(cp.origin)
            have = head.size if head is not None else 0
            if req.old_size != have:
                log.info("log %s: old size %d, the witness holds %d", cp.origin, req.old_size, have)
                return Reply(409, SIZE_TYPE, format_size(have))
            if head is not None and cp.size == head.size and cp.root != head.root:
                log.error("log %s: FORK: a second root for size %d", cp.origin, cp.size)
                return Reply.error(409, f"log {cp.origin!r}: the witness cosigned another root for size {cp.size}")
            try:
                verify_consistency(have, cp.size, head.root if head else cp.root, cp.root, req.proof)
            except ProofError as exc:
                log.error("log %s: consistency proof %d -> %d does not verify: %s", cp.origin, have, cp.size, exc)
                return Reply.error(422, f"the consistency proof from size {have} to {cp.size} does not verify: {exc}")
            try:
                self.state.advance(cp.origin, LogHead(cp.size, cp.root))
            except ConflictError as exc:  # pragma: no cover - excluded by the checks above
                return Reply.error(409, str(exc))
            line = cosign(cp, self.settings.signer, int(self._now())).to_note_signature().line()
        log.info("log %s: cosigned size %d", cp.origin, cp.size)
        return Reply(200, "text/plain; charset=utf-8", line.encode())
