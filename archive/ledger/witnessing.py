"""Submitting every new checkpoint to the configured witnesses (c2sp.org/tlog-witness, SPEC.md 7.5).

:class:`WitnessSubmitter` is called by the :class:`~archive.ledger.checkpoints.Checkpointer` after
each round (and by the export builder before it packages a checkpoint). Per witness and log it
sends the latest checkpoint with the consistency proof from the size the witness last cosigned
(the largest size of a stored cosignature by its key; 0 at first); on 409 it retries once from the
size the witness reports. Valid cosignature lines are stored with the checkpoint
(:func:`~archive.ledger.witness.add_cosignature`), so they are served and exported with it. A log
that failed is retried in the next round; a witness that does not answer (down, timeout) is not
asked again in the same round, so a dead witness delays a round by one timeout at most. Per
witness it keeps failures and the last error in ``<data_dir>/witness-status.json``
(:func:`witness_report` reads it with the catalog for ``archive health``, ``archive status`` and
the metrics).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, and_, func, select

from archive.catalog.errors import catalog_errors
from archive.errors import (
    ERRORS,
    CatalogError,
    ConfigError,
    ConflictError,
    WitnessError,
    WitnessSizeError,
    WitnessStateLostError,
)
from archive.fsmodes import write_private
from archive.integrity import IntegrityError, VerifierKey
from archive.ledger import repo
from archive.ledger.service import Ledger
from archive.ledger.witness import add_cosignature, consistency_proof_for
from archive.witness.client import WitnessClient
from archive.witness.protocol import AddCheckpoint
from archive.witness_config import WitnessEndpoint

__all__ = ["WitnessHealth", "WitnessSubmitter", "describe_witness", "witness_clients", "witness_report"]

log = logging.getLogger(__name__)
STATUS_FILE = "witness-status.json"


def witness_clients(endpoints: Sequence[WitnessEndpoint], timeout_s: float = 10.0) -> tuple[WitnessClient, ...]:
    """Clients of ``[ledger] witnesses``. Raises ConfigError for a key that is not a witness key."""
    out = []
    for i, w in enumerate(endpoints):
        try:
            out.append(WitnessClient(w.url, VerifierKey.parse(w.key), timeout_s))
        except (IntegrityError, WitnessError) as exc:
            raise ConfigError(f"ledger.witnesses[{i}].key: not a witness verifier key (type 0x04): {exc}") from exc
    return tuple(out)


@dataclass
class _Stats:
    url: str
    failing: dict[str, str] = field(default_factory=dict)
    """Cameras whose last submission to this witness failed, with why."""
    failures: int = 0
    """``len(failing)``."""
    lost: dict[str, str] = field(default_factory=dict)
    """Cameras for which it answered a smaller size than it cosigned before (it lost its state)."""
    failures_total: int = 0
    last_error: str = ""
    last_error_us: int = 0
    last_ok_us: int = 0


class WitnessSubmitter:
    """Submits checkpoints to witnesses (module docstring). Thread-safe (one submission at a time)."""

    def __init__(self, ledger: Ledger, clients: Sequence[WitnessClient], status_file: Path | None = None,
                 now_us: Callable[[], int] = lambda: time.time_ns() // 1000) -> None:  # fmt: skip
        self._ledger = ledger
        self.clients = tuple(clients)
        self._status_file = status_file
        self._now_us = now_us
        self._lock = threading.Lock()
        self._retry: set[str] | None = None  # None: the first round looks at every log
        self._stats = {c.label: _Stats(c.url) for c in self.clients}
        self.last_failures: dict[str, str] = {}
        """``{camera id: why}`` of the last :meth:`submit`."""

    def submit(self, camera_ids: Iterable[str] = ()) -> dict[str, str]:
        """Submit the latest checkpoint of ``camera_ids`` (plus logs that failed before; every
        log the first time) to every witness. Returns ``{camera_id: error}`` of the failures;
        never raises for a witness's or a log's failure."""
        with self._lock:
            todo = set(camera_ids) | (self._all_cameras() if self._retry is None else self._retry)
            failed: dict[str, str] = {}
            silent: dict[str, str] = {}  # witnesses that did not answer in this round: not asked again
            for cam in sorted(todo):
                for client in self.clients:
                    st = self._stats[client.label]
                    try:
                        if client.label in silent:
                            raise WitnessError(f"not sent: {silent[client.label]} (earlier in this round)")
                        self._submit_one(client, cam)
                        st.failing.pop(cam, None)
                        st.lost.pop(cam, None)
                        st.last_ok_us = self._now_us()
                    except ERRORS as exc:
                        if isinstance(exc, WitnessError) and exc.status is None and client.label not in silent:
                            silent[client.label] = str(exc)
                        if isinstance(exc, WitnessStateLostError):
                            st.lost[cam] = str(exc)[:300]
                        log.warning("witness %s: checkpoint of camera %s not cosigned: %s", client.label, cam, exc)
                        st.failing[cam] = str(exc)[:300]
                        st.failures_total += 1
                        st.last_error, st.last_error_us = f"camera {cam}: {exc}"[:500], self._now_us()
                        failed[cam] = str(exc)
                    st.failures = len(st.failing)
            self._retry = set(failed)
            self.last_failures = dict(failed)
            self._write_status()
            return failed

    def _all_cameras(self) -> set[str]:
        try:
            with catalog_errors("cannot list the logs"), self._ledger.engine.connect() as conn:
                return {s.camera_id for s in repo.all_states(conn)}
        except CatalogError as exc:
            log.warning("witnesses: cannot list the logs: %s", exc.__cause__)
            return set()

    def _submit_one(self, client: WitnessClient, camera_id: str) -> None:
        view = self._ledger.signer.latest(camera_id, cosigned=False)
        if view is None:
            return
        known = cosigned = cosigned_sizes(self._ledger.engine, client.key).get(view.log_id, (0, 0))[0]
        if known == view.size:
            return
        for _ in range(2):
            if known > view.size:
                raise WitnessError(f"witness {client.label} holds size {known} of {view.log_id}, larger than the "
                                   f"archive's latest checkpoint ({view.size}): the log was rolled back here, or "
                                   "the witness cosigned another log under this name")  # fmt: skip
            proof = consistency_proof_for(self._ledger, camera_id, known, view.size).hashes if known else ()
            try:
                lines = client.add_checkpoint(AddCheckpoint(known, proof, view.note.encode()))
            except WitnessSizeError as exc:
                if exc.size == known:
                    raise
                if exc.size < cosigned:  # starting it over from there would hide that it forgot
                    raise WitnessStateLostError(
                        f"witness {client.label} LOST ITS STATE: it holds size {exc.size} of {view.log_id}, but "
                        f"cosigned size {cosigned} before (state file gone, or an older copy restored); not "
                        "resubmitted from that size: restore its state, or give it a new key",
                        409) from exc  # fmt: skip
                log.info("witness %s holds size %d of %s: retrying from it", client.label, exc.size, view.log_id)
                known = exc.size
                continue
            for line in lines:
                with contextlib.suppress(ConflictError):  # this witness's cosignature of that size is stored
                    add_cosignature(self._ledger, camera_id, view.size, line, client.key)
            return
        raise WitnessError(f"witness {client.label} answered 409 twice for {view.log_id}")

    def _write_status(self) -> None:
        if self._status_file is None:
            return
        doc = {"v": 1, "witnesses": {k: vars(s) for k, s in self._stats.items()}}
        try:
            write_private(self._status_file, json.dumps(doc, sort_keys=True).encode())
        except OSError as exc:
            log.warning("cannot write %s: %s", self._status_file, exc)


def cosigned_sizes(engine: Engine, key: VerifierKey) -> dict[str, tuple[int, int]]:
    """``{log_id: (largest size cosigned by key, when that row was stored, µs)}``. Raises CatalogError."""
    c = repo.COSIGNATURE.c
    q = (select(c.log_id, func.max(c.size), func.max(c.added_us))
         .where(and_(c.name == key.name, c.key_id == key.key_id.hex())).group_by(c.log_id))  # fmt: skip
    with catalog_errors("cannot read witness cosignatures"), engine.connect() as conn:
        return {str(r[0]): (int(r[1]), int(r[2])) for r in conn.execute(q)}


@dataclass(frozen=True)
class WitnessHealth:
    """One witness as ``archive health``/``status``/metrics report it.

    ``logs``: logs with a checkpoint; ``behind``: those whose latest checkpoint it has not
    cosigned; ``last_size``: the largest size it cosigned of any log; ``age_s``: seconds since
    its last stored cosignature (None: never); ``failures``: logs whose last submission to it
    failed; ``failures_total``: failed submissions since the service started.
    """

    label: str
    url: str
    logs: int
    behind: int
    last_size: int
    age_s: float | None
    failures: int
    failures_total: int
    last_error: str = ""
    sizes: dict[str, int] = field(default_factory=dict)
    state_lost: int = 0
    lost_detail: str = ""

    @property
    def ok(self) -> bool:
        """No log's last submission failed, it lost no state, and (if any log exists) it cosigned at least once."""
        return self.failures == 0 and self.state_lost == 0 and (self.logs == 0 or self.age_s is not None)


def witness_report(engine: Engine, clients: Sequence[WitnessClient], data_dir: Path,
                   now_us: int | None = None) -> list[WitnessHealth]:  # fmt: skip
    """Each witness's health from the catalog and ``witness-status.json``. Raises CatalogError."""
    now = time.time_ns() // 1000 if now_us is None else now_us
    try:
        raw = json.loads((data_dir / STATUS_FILE).read_text(encoding="utf-8")).get("witnesses", {})
    except (OSError, ValueError, AttributeError):
        raw = {}
    ck = repo.CHECKPOINT.c
    with catalog_errors("cannot read checkpoints"), engine.connect() as conn:
        latest = {str(r[0]): int(r[1]) for r in conn.execute(select(ck.log_id, func.max(ck.size))
                                                              .group_by(ck.log_id))}  # fmt: skip
    out = []
    for c in clients:
        sizes = cosigned_sizes(engine, c.key)
        st = raw.get(c.label, {}) if isinstance(raw, dict) else {}
        st = st if isinstance(st, dict) else {}
        lost = {str(k): str(v) for k, v in st.get("lost", {}).items()} if isinstance(st.get("lost"), dict) else {}
        last_us = max((t for _s, t in sizes.values()), default=None)
        out.append(WitnessHealth(
            c.label, c.url, len(latest), sum(1 for lid, n in latest.items() if sizes.get(lid, (0, 0))[0] < n),
            max((s for s, _t in sizes.values()), default=0),
            None if last_us is None else max(0.0, (now - last_us) / 1e6),
            int(st.get("failures", 0)), int(st.get("failures_total", 0)), str(st.get("last_error", "")),
            {lid: s for lid, (s, _t) in sizes.items()}, len(lost), next(iter(lost.values()), ""),
        ))  # fmt: skip
    return out


def describe_witness(h: WitnessHealth) -> str:
    """One sentence: what the witness cosigned, how long ago, what is behind or failing."""
    if h.age_s is None:
        text = f"{h.url}: has cosigned no checkpoint yet"
    else:
        text = f"{h.url}: cosigned up to size {h.last_size}, last {h.age_s:.0f} s ago"
    if h.state_lost:
        text += f"; {h.lost_detail} ({h.state_lost} logs)"
    text += f"; {h.behind} of {h.logs} logs behind"
    if h.failures:
        text += f"; {h.failures} logs failing ({h.failures_total} failures so far), last: {h.last_error}"
    return text
