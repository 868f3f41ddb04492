"""Can the identity the service runs with bypass the GOVERNANCE lock? Try it, for real.

:func:`probe_bypass` puts a tiny probe object under ``_probe/`` with a short GOVERNANCE retention
and deletes that version with the bypass header, as an intruder holding the service's key would.
A refusal proves the identity cannot delete locked media early; a success means it can (the probe
object is then gone). A refused probe object expires after ``retain_for`` and a later object-lock
probe sweeps it (:mod:`archive.storage.probe`). Raises only when the store cannot be reached.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from archive.errors import ObjectLockedError, StorageError, StorageUnavailableError
from archive.storage.base import LockMode, ObjectStore, Retention
from archive.storage.probe import PROBE_PREFIX

__all__ = ["BypassProbeResult", "probe_bypass"]


@dataclass(frozen=True)
class BypassProbeResult:
    """``can_bypass``: the delete succeeded; ``refused``: object lock refused it; neither: the probe
    could not tell (``detail`` says why)."""

    identity: str
    can_bypass: bool
    refused: bool
    detail: str


def probe_bypass(store: ObjectStore, bucket: str, *, identity: str = "the service identity",
                 retain_for: dt.timedelta = dt.timedelta(seconds=60)) -> BypassProbeResult:  # fmt: skip
    """Try a bypass-governance delete of a freshly locked probe version in ``bucket`` with ``store``.

    Raises :class:`StorageUnavailableError` when the store is down; every other failure is a result.
    """
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    key = f"{PROBE_PREFIX}{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}-bypass"
    try:
        put = store.put_bytes(bucket, key, b"archive bypass probe\n",
                              retention=Retention(LockMode.GOVERNANCE, now + retain_for))  # fmt: skip
    except StorageUnavailableError:
        raise
    except StorageError as exc:
        return BypassProbeResult(identity, False, False, f"cannot put the bypass probe object into {bucket}: {exc}")
    try:
        store.delete_version(bucket, key, put.version_id, bypass_governance=True)
    except ObjectLockedError:
        return BypassProbeResult(identity, False, True, f"{identity} cannot bypass GOVERNANCE retention "
                                 f"(a bypass delete of a locked probe version in {bucket} was refused)")  # fmt: skip
    except StorageUnavailableError:
        raise
    except StorageError as exc:
        return BypassProbeResult(identity, False, False, f"the bypass probe failed for another reason: {exc}")
    if dt.datetime.now(dt.UTC) >= now + retain_for:  # the lock had ended: a plain delete proves nothing
        return BypassProbeResult(identity, False, False, f"the bypass probe was inconclusive: its delete in {bucket} "
                                 f"came after the probe's {retain_for.total_seconds():g} s lock ended")  # fmt: skip
    return BypassProbeResult(identity, True, False, f"{identity} CAN bypass GOVERNANCE retention: it deleted a "
                             f"locked probe version in {bucket} before its retention ended")  # fmt: skip
