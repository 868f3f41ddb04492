"""Witness cosignatures on a camera's checkpoint (C2SP tlog-cosignature, SPEC.md 7.4).

Every signature line of ``checkpoint.note`` that is not the log's own (its name is not the
log's origin) is a witness cosignature. Each is checked with the witness keys (type 0x04)
bundled in ``keys/keys.txt`` or given with ``--witness``: a valid one is reported with its
witness and time, an invalid one fails the camera, and so does one no key can check (the
archive only packages cosignatures it could verify, with their keys). The witness policy
"q of n" (SPEC.md 7.5): of the n ``--witness`` keys, at least q (``--witness-quorum``, default n)
must have a valid cosignature on every camera's checkpoint; fewer fails the camera.

Needs only the standard library and the bundled ``integrity`` package.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .formats import FormatError, fingerprint
from .outcome import CheckBuilder

if TYPE_CHECKING or __name__.startswith("archive."):
    from archive import integrity as itg
else:  # inside a package: the copy of integrity/ beside this folder
    import integrity as itg

__all__ = ["check_cosignatures", "check_quorum", "parse_witnesses"]


def parse_witnesses(values: Sequence[str]) -> list[itg.VerifierKey]:
    """``--witness`` values: witness verifier keys (``name+id+base64``, type 0x04).

    Raises:
        FormatError: a value that is not a witness verifier key.
    """
    keys: list[itg.VerifierKey] = []
    for value in (v.strip() for v in values if v.strip()):
        try:
            key = itg.VerifierKey.parse(value)
        except itg.IntegrityError as exc:
            raise FormatError(f"--witness {value!r}: not a verifier key: {exc}") from exc
        if key.alg != itg.ALG_COSIGNATURE_V1:
            raise FormatError(f"--witness {value!r}: not a witness key (cosignature/v1, type 0x04; "
                              "'archive witness keygen' prints one)")  # fmt: skip
        keys.append(key)
    return keys


def check_quorum(quorum: int | None, required: Sequence[itg.VerifierKey]) -> int:
    """``--witness-quorum`` checked against the ``--witness`` keys (distinct public keys); default: all.

    Raises:
        FormatError: a quorum below 1, above the number of keys, or without any ``--witness``.
    """
    n = len({k.public_key for k in required})
    if quorum is None:
        return n
    if n == 0:
        raise FormatError("--witness-quorum needs the witness keys it counts (--witness KEY, repeatable)")
    if not 1 <= quorum <= n:
        raise FormatError(f"--witness-quorum {quorum}: must be between 1 and the {n} --witness keys given")
    return quorum


def _when(seconds: int) -> str:
    try:
        return itg.format_time(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return f"POSIX time {seconds}"


def check_cosignatures(note: str, origin: str, known: Sequence[itg.VerifierKey],
                       required: Sequence[itg.VerifierKey], chk: CheckBuilder,
                       quorum: int | None = None) -> None:  # fmt: skip
    """Check every cosignature on ``note`` (module docstring) into ``chk``. ``known``: bundled
    and given witness keys; ``required``: the ``--witness`` keys, of which ``quorum`` (default:
    all) must have cosigned. Never raises."""
    try:
        parsed = itg.SignedNote.parse(note)
    except itg.IntegrityError as exc:
        chk.fail(f"the checkpoint note does not parse: {exc}")
        return
    keys = list({k.encode(): k for k in (*known, *required) if k.alg == itg.ALG_COSIGNATURE_V1}.values())
    valid: set[bytes] = set()
    for sig in parsed.signatures:
        if sig.name == origin:
            continue
        label = f"{sig.name}+{sig.key_id.hex()}"
        mine = [k for k in keys if (k.name, k.key_id) == (sig.name, sig.key_id)]
        if not mine:
            chk.fail(f"witness cosignature by {label}: no key for this witness in keys/keys.txt or given with "
                     "--witness, so it cannot be checked")  # fmt: skip
            continue
        try:
            found = itg.verify_cosignatures(itg.SignedNote(parsed.text, (sig,)), mine)
        except itg.IntegrityError as exc:
            chk.fail(f"witness cosignature by {label} does NOT verify over this checkpoint ({exc}): it was altered, "
                     "or made over another checkpoint")  # fmt: skip
            continue
        for c in found:
            valid.add(mine[0].public_key)
            size = _size(parsed.text)
            chk.note(f"witness cosignature by {label} (fingerprint {fingerprint(mine[0].public_key)}) verifies: the "
                     f"witness cosigned this checkpoint (size {size}) at {_when(c.timestamp)}")  # fmt: skip
    _policy(parsed.text, required, valid, chk, quorum)


def _policy(text: str, required: Sequence[itg.VerifierKey], valid: set[bytes], chk: CheckBuilder,
            quorum: int | None) -> None:  # fmt: skip
    """The witness policy: ``quorum`` of ``required`` (all when None) among the ``valid`` keys."""
    distinct = list({k.public_key: k for k in required}.values())
    q = len(distinct) if quorum is None else quorum
    signed = 0
    for req in distinct:
        label = f"{req.name}+{req.key_id.hex()}"
        if req.public_key in valid:
            signed += 1
            chk.note(f"trusted witness {label} (--witness) cosigned this checkpoint")
        elif q == len(distinct):
            chk.fail(f"no valid cosignature by the trusted witness {label} (--witness) on this checkpoint")
        else:
            chk.note(f"the trusted witness {label} (--witness) did not cosign this checkpoint")
    if q < len(distinct):
        if signed >= q:
            chk.note(f"witness policy {q} of {len(distinct)}: met ({signed} trusted witnesses cosigned size "
                     f"{_size(text)})")  # fmt: skip
        else:
            chk.fail(f"witness policy {q} of {len(distinct)}: NOT met, only {signed} of the trusted witnesses "
                     f"cosigned this checkpoint (size {_size(text)}): no independent party vouches that this is "
                     "the log they saw")  # fmt: skip


def _size(text: str) -> str:
    lines = text.split("\n")
    return lines[1] if len(lines) > 1 else "?"
