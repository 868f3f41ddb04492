"""Writing a log (in memory) and checking a run of entries (SPEC.md sections 4 and 8).

:class:`LogWriter` fills ``log``/``seq``/``prev``, encodes canonically, appends the leaf to an
incremental RFC 6962 tree and returns everything the caller must persist, in one
:class:`Appended`. It is not thread-safe and holds no I/O: the caller stores the entry bytes,
leaf hash, completed nodes and :meth:`LogWriter.state` atomically, and signs checkpoints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .checkpoint import Checkpoint
from .encoding import ZERO_HASH, check_hex, check_int
from .entries import Entry, KeyRotation, Payload, rotation_statement
from .errors import ChainError, IntegrityError, MalformedError, SignatureError
from .keys import ALG_ED25519, Signer, VerifierKey, check_key_name
from .merkle import CompactRange, Node

__all__ = [
    "Appended",
    "LogWriter",
    "WriterState",
    "make_key_rotation",
    "verify_entries",
    "verify_key_rotation",
]

_sha256 = hashlib.sha256


@dataclass(frozen=True, slots=True)
class Appended:
    """What one append produced: persist ``data`` (the entry's exact bytes), ``leaf_hash``
    (for proofs) and ``nodes`` (completed perfect subtrees, optional, for O(log N) proofs).

    ``entry_hash`` is SHA-256(data), the next entry's ``prev``.
    """

    entry: Entry
    data: bytes
    entry_hash: bytes
    leaf_hash: bytes
    nodes: tuple[Node, ...]

    @property
    def seq(self) -> int:
        """The entry's sequence number (= leaf index)."""
        return self.entry.seq


@dataclass(frozen=True, slots=True)
class WriterState:
    """Everything needed to resume a log: origin, size, hash of the last entry, right edge.

    Raises (on construction):
        MalformedError: inconsistent values (edge length vs size, non-zero last hash of an
            empty log, hashes not 32 bytes).
    """

    origin: str
    size: int
    last_hash: bytes
    edge: tuple[bytes, ...]

    def __post_init__(self) -> None:
        check_key_name(self.origin, "writer state origin")
        check_int(self.size, "writer state size", minimum=0)
        object.__setattr__(self, "edge", tuple(self.edge))
        CompactRange(self.size, self.edge)  # validates edge length and hash sizes
        if len(self.last_hash) != 32 or (self.size == 0 and self.last_hash != ZERO_HASH):
            raise MalformedError("writer state: last_hash must be 32 bytes, zero for an empty log")

    def to_dict(self) -> dict[str, Any]:
        """JSON object form (hashes in lowercase hex)."""
        return {
            "origin": self.origin,
            "size": self.size,
            "last_hash": self.last_hash.hex(),
            "edge": [h.hex() for h in self.edge],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WriterState:
        """Parse :meth:`to_dict` output. Raises MalformedError."""
        if set(d) != {"origin", "size", "last_hash", "edge"} or not isinstance(d["edge"], list):
            raise MalformedError("writer state: fields must be origin, size, last_hash, edge")
        return cls(
            origin=d["origin"],
            size=d["size"],
            last_hash=check_hex(d["last_hash"], "writer state last_hash", nbytes=32),
            edge=tuple(check_hex(h, "writer state edge", nbytes=32) for h in d["edge"]),
        )


class LogWriter:
    """Append-only writer of one log (one camera). O(log N) memory, never rebuilds."""

    __slots__ = ("_last", "_origin", "_tree")

    def __init__(self, origin: str, state: WriterState | None = None) -> None:
        """Start an empty log, or resume from ``state``.

        Raises:
            MalformedError: invalid origin, or ``state`` belongs to another origin.
        """
        check_key_name(origin, "log origin")
        if state is not None and state.origin != origin:
            raise MalformedError(f"writer state is for log {state.origin!r}, not {origin!r}")
        self._origin = origin
        self._tree = CompactRange() if state is None else CompactRange(state.size, state.edge)
        self._last = ZERO_HASH if state is None else state.last_hash

    @property
    def origin(self) -> str:
        """The log id (checkpoint origin line, ``log`` field of every entry)."""
        return self._origin

    @property
    def size(self) -> int:
        """Number of entries; also the seq of the next entry."""
        return self._tree.size

    def append(self, payload: Payload) -> Appended:
        """Append one entry. On error nothing changes.

        Raises:
            MalformedError: the payload is not valid at this position (e.g. a prune entry
                naming seqs that are not before it).
        """
        entry = Entry(self._origin, self._tree.size, self._last, payload)
        data = entry.encode()
        entry_hash = _sha256(data).digest()
        leaf = _sha256(b"\x00" + data).digest()
        nodes = self._tree.append(leaf)
        self._last = entry_hash
        return Appended(entry, data, entry_hash, leaf, nodes)

    def root(self) -> bytes:
        """The current root hash."""
        return self._tree.root()

    def checkpoint(self, extensions: Sequence[str] = ()) -> Checkpoint:
        """The current tree head, ready for :func:`~archive.integrity.checkpoint.sign_checkpoint`."""
        return Checkpoint(self._origin, self._tree.size, self._tree.root(), tuple(extensions))

    def state(self) -> WriterState:
        """A snapshot to persist; pass it to the constructor to resume."""
        return WriterState(self._origin, self._tree.size, self._last, self._tree.edge)


def verify_entries(
    entries: Sequence[bytes], *, origin: str, start: int, prev: bytes | None = None
) -> tuple[Entry, ...]:
    """Decode a run of entries with seq ``start, start + 1, ...`` and check the chain (SPEC.md 8,
    steps 4-5): each is canonical and valid, ``v``/``log``/``seq`` are as expected, each
    ``prev`` is SHA-256 of the previous entry's bytes, entry 0 has ``prev`` = zeros, the
    first entry's ``prev`` equals ``prev`` when given, and all segment and gap entries name
    the same camera.

    Raises:
        MalformedError: an entry does not decode (message names log and seq).
        ChainError: wrong log, seq, prev or camera (message names log and seq).
    """
    out: list[Entry] = []
    expected_prev = ZERO_HASH if start == 0 else prev
    camera: str | None = None
    for i, data in enumerate(entries):
        seq = start + i
        try:
            entry = Entry.decode(data)
        except IntegrityError as exc:
            raise exc.located(log=origin, seq=seq) from exc
        if entry.log != origin:
            raise ChainError(f"entry belongs to log {entry.log!r}", log=origin, seq=seq)
        if entry.seq != seq:
            raise ChainError(f"entry says seq {entry.seq}, expected {seq}", log=origin, seq=seq)
        if expected_prev is not None and entry.prev != expected_prev:
            what = "the zero hash" if seq == 0 else f"SHA-256 of entry {seq - 1}"
            raise ChainError(
                f"prev is {entry.prev.hex()}, expected {what} = {expected_prev.hex()}", log=origin, seq=seq
            )
        cam = getattr(entry.payload, "camera", None)
        if cam is not None:
            if camera is not None and cam != camera:
                raise ChainError(f"camera {cam!r} differs from {camera!r} earlier in the log", log=origin, seq=seq)
            camera = cam
        expected_prev = _sha256(data).digest()
        out.append(entry)
    return tuple(out)


def make_key_rotation(origin: str, old: Signer, new_key: VerifierKey, at: datetime) -> KeyRotation:
    """A key-rotation payload signed by the current log key ``old`` (SPEC.md 2.6).

    Raises:
        MalformedError: a key's name differs from ``origin`` or a key is not type 0x01.
    """
    for key in (old.verifier_key, new_key):
        if key.name != origin or key.alg != ALG_ED25519:
            raise MalformedError(f"log keys must be Ed25519 (0x01) named {origin!r}, got {key.encode()}")
    statement = rotation_statement(origin, old.key_id, new_key.encode(), at)
    return KeyRotation(at=at, old_key_id=old.key_id, new_key=new_key.encode(), sig=old.sign(statement))


def verify_key_rotation(entry: Entry, old_key: VerifierKey) -> VerifierKey:
    """Check a ``key`` entry against the old log key and return the new key it introduces.

    The entry itself must also be proven part of the log (range or inclusion proof) before
    the new key is trusted.

    Raises:
        MalformedError: the entry is not a key rotation.
        SignatureError: ``old_key`` is not the key named by the entry, or the signature is
            invalid, or the new key's name is not the log origin.
    """
    rot = entry.payload
    if not isinstance(rot, KeyRotation):
        raise MalformedError(f"entry is a {entry.kind} entry, not a key rotation", log=entry.log, seq=entry.seq)
    if old_key.key_id != rot.old_key_id or old_key.name != entry.log or old_key.alg != ALG_ED25519:
        raise SignatureError(
            f"rotation names old key id {rot.old_key_id.hex()}, not {old_key.encode()}", log=entry.log, seq=entry.seq
        )
    new = rot.new_verifier_key
    if new.name != entry.log:
        raise SignatureError(f"new key name {new.name!r} is not the log origin", log=entry.log, seq=entry.seq)
    if not old_key.verify(rotation_statement(entry.log, rot.old_key_id, rot.new_key, rot.at), rot.sig):
        raise SignatureError("key rotation signature by the old key does not verify", log=entry.log, seq=entry.seq)
    return new
