"""RFC 3161 time-stamp tokens on a camera's checkpoint (EXPORT-SPEC.md 7.6), checked in step 6.

A camera section's ``timestamp`` names ``cameras/<id>/checkpoint.tsr``: a TSA's ``TimeStampResp``
over the SHA-256 of the checkpoint's text (the note before its signatures: origin, size, root).
The verifier requires the token to be over exactly that text, its signature to verify, the
manifest's ``gen_time`` to be the token's, and no exported segment or gap entry to end more than
``T`` after genTime (the log of that size existed at genTime, so nothing in it can be later).
With ``--tsa-cert FILE`` (certificates the person verifying obtained from the TSA) the signer
must be one of them or directly issued by one, and **every** camera must carry a token.

Needs only the standard library and the bundled ``integrity`` package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .formats import FormatError
from .outcome import CheckBuilder

if TYPE_CHECKING or __name__.startswith("archive."):
    from archive import integrity as itg
    from archive.integrity import timestamp as tsp
else:  # inside a package: the copy of integrity/ beside this folder
    import integrity as itg
    from integrity import timestamp as tsp

__all__ = ["NO_TSA", "TimestampFile", "TsaTrust", "check_camera_timestamp", "load_tsa_certificates"]


@dataclass(frozen=True)
class TimestampFile:
    """A camera section's ``timestamp``: the token's path and the genTime the manifest states."""

    path: str
    gen_time: str

    @classmethod
    def parse(cls, d: Any) -> TimestampFile | None:
        """Parse ``timestamp`` (null or absent: none). Raises FormatError."""
        if d is None:
            return None
        if not isinstance(d, dict) or not all(isinstance(d.get(k), str) for k in ("path", "gen_time")):
            raise FormatError("timestamp must be null or an object with the strings path and gen_time")
        return cls(d["path"], d["gen_time"])


@dataclass(frozen=True)
class TsaTrust:
    """The TSA certificates given with ``--tsa-cert`` (empty: none given, tokens checked only inside)."""

    certificates: tuple[tsp.TsaCertificate, ...] = ()

    @property
    def given(self) -> bool:
        """True when the person verifying gave TSA certificates (then every camera needs a token)."""
        return bool(self.certificates)


NO_TSA = TsaTrust()
"""No ``--tsa-cert`` given."""


def load_tsa_certificates(paths: Sequence[str | Path]) -> TsaTrust:
    """The certificates of the ``--tsa-cert`` files (PEM, one or more each).

    Raises:
        FormatError: a file that is missing or holds no PEM certificate (a usage error, exit 2).
    """
    certs: list[tsp.TsaCertificate] = []
    for p in paths:
        try:
            certs.extend(tsp.load_certificates(Path(p).read_bytes()))
        except OSError as exc:
            raise FormatError(f"--tsa-cert {p}: cannot read it: {exc.strerror or exc}") from exc
        except itg.IntegrityError as exc:
            raise FormatError(f"--tsa-cert {p}: {exc}") from exc
    return TsaTrust(tuple(certs))


def check_camera_timestamp(camera: str, stamp: TimestampFile | None, note: str, entries: Sequence[itg.Entry],
                           read: Any, tsa: TsaTrust, tolerance_us: int, chk: CheckBuilder) -> str | None:  # fmt: skip
    """Check ``camera``'s token into ``chk`` (module docstring); return the fact for people, or None."""
    if stamp is None:
        if tsa.given:
            chk.fail(f"camera {camera}: no RFC 3161 time-stamp token, but --tsa-cert asks for one on every camera")
        return None
    try:
        text = itg.SignedNote.parse(note).text.encode("utf-8")
        token = tsp.read_timestamp_response(read(stamp.path))
        tsp.check_timestamp(token, text, list(tsa.certificates) if tsa.given else None)
    except (KeyError, OSError) as exc:
        chk.fail(f"camera {camera}: cannot read the time-stamp token {stamp.path}: {exc}")
        return None
    except itg.IntegrityError as exc:
        chk.fail(f"camera {camera}: time-stamp token {stamp.path}: {exc}")
        return None
    gen = itg.format_time(token.gen_time)
    if gen != stamp.gen_time:
        chk.fail(f"camera {camera}: the manifest says the checkpoint was time-stamped at {stamp.gen_time}, the token "
                 f"says {gen}")  # fmt: skip
    latest = token.gen_time + timedelta(microseconds=tolerance_us)
    for e in entries:
        p = e.payload
        if isinstance(p, (itg.Segment, itg.Gap)) and p.end > latest:
            chk.fail(f"camera {camera}: seq {e.seq} ends at {itg.format_time(p.end)}, after {gen}, when the TSA saw "
                     "a log that already held it")  # fmt: skip
    whom = "a TSA certificate you trusted" if tsa.given else "no TSA certificate you gave (--tsa-cert): not trusted"
    chk.note(f"camera {camera}: checkpoint time-stamped at {gen} by {token.signer_subject} (RFC 3161, serial "
             f"{token.serial}), signature checked against {whom}")  # fmt: skip
    return (f"{camera}: a time-stamping authority ({token.signer_subject}) saw this camera's log, with every "
            f"exported entry, no later than {gen} (RFC 3161)")  # fmt: skip
