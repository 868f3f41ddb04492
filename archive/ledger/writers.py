"""The writer claims one process holds (one writer per camera log), and their renewal.

A recorder claims every camera before it touches that camera's spool or the store
(:meth:`WriterClaims.claim`), renews the claims every ``ttl / 3`` on a background thread while it
records (:meth:`WriterClaims.start_renewing`) and releases them when it stops. The ledger appends a
camera's segments and gaps only under the claim held here, and checks it in the append's transaction
(:mod:`archive.ledger.claims`).

When a renewal fails because the database is unreachable, nothing changes here: recording goes on
into the spool and appends fail (and are retried) until the database is back; then the same holder
simply continues if nobody took the claim over, and is refused (``WriterClaimLostError``) if
another holder did.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable
from typing import Final

from sqlalchemy import Engine

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, CatalogError, WriterHeldError
from archive.ledger.claims import (
    ClaimRecord,
    WriterClaim,
    all_claims,
    current_claim,
    release_claim,
    renew_claims,
    take_claim,
)

__all__ = ["DEFAULT_TTL_S", "WriterClaims", "process_holder"]

log = logging.getLogger(__name__)

DEFAULT_TTL_S: Final = 15.0
RENEW_RETRY_S: Final = 0.5  # after a renewal round the database failed, the next round comes this soon


def process_holder() -> str:
    """A holder name for this process: ``<hostname>:<pid>:<8 random hex>`` (unique even when a
    pid is reused or two hosts share a name)."""
    return f"{socket.gethostname()[:200]}:{os.getpid()}:{secrets.token_hex(4)}"


class WriterClaims:
    """The writer claims held by one holder (one process). Thread-safe."""

    def __init__(self, engine: Engine, *, holder: str | None = None, ttl_s: float = DEFAULT_TTL_S,
                 renew_s: float | None = None) -> None:  # fmt: skip
        if ttl_s <= 0 or (renew_s is not None and not 0 < renew_s < ttl_s):
            raise ValueError("ttl_s must be positive and renew_s between 0 and ttl_s")
        self._engine = engine
        self.holder = holder or process_holder()
        self.ttl_s = ttl_s
        self.renew_s = renew_s if renew_s is not None else ttl_s / 3
        self._held: dict[str, WriterClaim] = {}
        self._lost: dict[str, str] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def _ttl_us(self) -> int:
        return round(self.ttl_s * 1_000_000)

    def held(self, camera_id: str) -> WriterClaim | None:
        """The claim this process holds on the camera (None: it holds none)."""
        with self._guard:
            return self._held.get(camera_id)

    def lost(self) -> dict[str, str]:
        """Cameras whose claim another holder took over, with the reason (for status)."""
        with self._guard:
            return dict(self._lost)

    def forget_lost(self, camera_id: str) -> None:
        """No longer list the camera as lost (a node whose assignment gives it to another node)."""
        with self._guard:
            self._lost.pop(camera_id, None)

    def claim(self, camera_id: str) -> WriterClaim:
        """Claim the camera's log for this process (renews a claim it already holds).

        Raises:
            WriterHeldError: another live process holds it (the message names the holder).
            CatalogError: the database failed.
        """
        for _attempt in range(2):
            try:
                with catalog_errors(f"cannot claim camera {camera_id}"), self._engine.begin() as conn:
                    claim = take_claim(conn, camera_id, self.holder, self._ttl_us)
            except CatalogConflictError:
                continue  # another holder inserted the first row meanwhile: read it again
            with self._guard:
                self._held[camera_id] = claim
                self._lost.pop(camera_id, None)
            return claim
        raise WriterHeldError(f"camera {camera_id} was claimed by another process at the same moment")

    def claim_all(self, camera_ids: Iterable[str]) -> tuple[list[WriterClaim], dict[str, str]]:
        """Claim each camera; returns ``(claimed, {camera_id: why refused})``.

        Raises CatalogError (the database failed).
        """
        claimed: list[WriterClaim] = []
        refused: dict[str, str] = {}
        for camera_id in camera_ids:
            try:
                claimed.append(self.claim(camera_id))
            except WriterHeldError as exc:
                refused[camera_id] = str(exc)
        return claimed, refused

    def claim_for_recording(self, camera_ids: Iterable[str], *, refuse: bool) -> tuple[list[str], dict[str, str]]:
        """Claim the cameras a recorder is about to record, before it touches their spool or the store.

        Returns ``(claimed camera ids, {camera_id: why skipped})``; each skipped one is logged as
        an error. ``refuse``: raise instead of skipping (``archive record``), releasing what was claimed.

        Raises:
            WriterHeldError: with ``refuse``, a camera is held by another live process (named).
            CatalogError: the database failed.
        """
        claimed, refused = self.claim_all(camera_ids)
        if refused and refuse:
            for claim in claimed:
                self.release(claim.camera_id)
            raise WriterHeldError(next(iter(refused.values())))
        for camera_id, why in refused.items():
            log.error("NOT recording camera %s: %s", camera_id, why)
        return [c.camera_id for c in claimed], refused

    def describe(self, camera_id: str) -> ClaimRecord | None:
        """The camera's current claim row (whoever holds it). Raises CatalogError."""
        with catalog_errors(f"cannot read the writer claim of camera {camera_id}"), self._engine.connect() as conn:
            return current_claim(conn, camera_id)

    def held_by_others(self) -> set[str]:
        """Cameras whose live claim another holder has. Raises CatalogError."""
        with catalog_errors("cannot read the writer claims"), self._engine.connect() as conn:
            return {r.claim.camera_id for r in all_claims(conn) if r.live and r.claim.holder != self.holder}

    def renew_all(self) -> bool:
        """Renew every held claim once. A claim another holder took over is dropped (and listed
        by :meth:`lost`); a database failure is logged, changes nothing (see module docstring) and
        ends this round (the others would fail alike): returns False then, and the renewal thread
        tries again :data:`RENEW_RETRY_S` later."""
        with self._guard:
            claims = list(self._held.values())
        try:
            with catalog_errors("cannot renew the writer claims"), self._engine.begin() as conn:
                lost = renew_claims(conn, claims, self._ttl_us)  # one statement per 500, not one transaction each
        except CatalogError as exc:
            log.warning("cannot renew the writer claims of %d cameras (database): %s; recording goes on into the "
                        "spool", len(claims), exc.__cause__.__class__.__name__)  # fmt: skip
            return False
        for claim in claims:
            why = lost.get(claim.camera_id)
            if why is None:
                continue
            log.error("%s", why)
            with self._guard:
                if self._held.get(claim.camera_id) == claim:
                    del self._held[claim.camera_id]
                self._lost[claim.camera_id] = why
        return True

    def release(self, camera_id: str) -> None:
        """Release the camera's claim (it expires now; the epoch stays). Raises nothing: a
        failure is logged, and the claim then expires after its TTL."""
        with self._guard:
            claim = self._held.pop(camera_id, None)
        if claim is None:
            return
        try:
            with catalog_errors(f"cannot release the writer claim of camera {camera_id}"), self._engine.begin() as conn:
                release_claim(conn, claim)
        except CatalogError as exc:
            log.warning("cannot release the writer claim of camera %s: %s", camera_id, exc.__cause__.__class__.__name__)

    def release_all(self) -> None:
        """Stop renewing and release every held claim."""
        self.stop_renewing()
        with self._guard:
            cameras = list(self._held)
        for camera_id in cameras:
            self.release(camera_id)

    def start_renewing(self) -> None:
        """Renew every held claim every ``renew_s`` (default ``ttl / 3``) seconds on a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            wait = self.renew_s
            while not self._stop.wait(wait):
                wait = self.renew_s if self.renew_all() else min(self.renew_s, RENEW_RETRY_S)

        self._thread = threading.Thread(target=loop, name="writer-claims", daemon=True)
        self._thread.start()

    def stop_renewing(self) -> None:
        """Stop the renewal thread (claims stay held until released or expired)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
