"""archive.integrity: the tamper-evident log of the archive (spec: ``SPEC.md`` beside this file).

Per-camera logs of canonical JSON entries, chained by hash and used as the leaves of an
RFC 6962 Merkle tree; checkpoints signed as C2SP signed notes (Ed25519) and optionally
cosigned by witnesses (C2SP tlog-cosignature); inclusion, consistency and range proofs.

Depends only on the Python standard library and ``cryptography``, so it can be copied into an
evidence export and run there alone. Errors: :mod:`archive.integrity.errors`.
"""

from __future__ import annotations

from .checkpoint import (
    Checkpoint,
    Cosignature,
    cosign,
    open_checkpoint,
    require_cosignatures,
    sign_checkpoint,
    verify_checkpoint,
    verify_cosignatures,
)
from .encoding import VERSION, ZERO_HASH, canonical_json, entry_hash, format_time, parse_time
from .entries import Clock, Entry, Gap, GapReason, KeyRotation, MediaInfo, Payload, Prune, Segment
from .errors import (
    ChainError,
    CompletenessError,
    IntegrityError,
    MalformedError,
    MediaMismatchError,
    NonCanonicalError,
    ProofError,
    SignatureError,
    TimeOrderError,
)
from .keys import ALG_COSIGNATURE_V1, ALG_ED25519, Signer, VerifierKey
from .log import (
    Appended,
    LogWriter,
    WriterState,
    make_key_rotation,
    verify_entries,
    verify_key_rotation,
)
from .merkle import (
    EMPTY_ROOT,
    CompactRange,
    HashSource,
    MemoryTree,
    Node,
    TreeHashes,
    leaf_hash,
    merkle_root,
    node_hash,
)
from .note import NoteSignature, SignedNote, sign_note, verify_note
from .proofs import (
    InclusionProof,
    RangeProof,
    consistency_proof,
    inclusion_proof,
    range_proof,
    range_proof_size,
    root_from_range,
    verify_consistency,
    verify_inclusion,
    verify_range_proof,
)
from .verify import (
    DEFAULT_TOLERANCE_US,
    RangeReport,
    check_time_coverage,
    verify_media,
    verify_range,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "DEFAULT_TOLERANCE_US",
    "EMPTY_ROOT",
    "VERSION",
    "ZERO_HASH",
    "Appended",
    "ChainError",
    "Checkpoint",
    "Clock",
    "CompactRange",
    "CompletenessError",
    "Cosignature",
    "Entry",
    "Gap",
    "GapReason",
    "HashSource",
    "InclusionProof",
    "IntegrityError",
    "KeyRotation",
    "LogWriter",
    "MalformedError",
    "MediaInfo",
    "MediaMismatchError",
    "MemoryTree",
    "Node",
    "NonCanonicalError",
    "NoteSignature",
    "Payload",
    "ProofError",
    "Prune",
    "RangeProof",
    "RangeReport",
    "Segment",
    "SignatureError",
    "SignedNote",
    "Signer",
    "TimeOrderError",
    "TreeHashes",
    "VerifierKey",
    "WriterState",
    "canonical_json",
    "check_time_coverage",
    "consistency_proof",
    "cosign",
    "entry_hash",
    "format_time",
    "inclusion_proof",
    "leaf_hash",
    "make_key_rotation",
    "merkle_root",
    "node_hash",
    "open_checkpoint",
    "parse_time",
    "range_proof",
    "range_proof_size",
    "require_cosignatures",
    "root_from_range",
    "sign_checkpoint",
    "sign_note",
    "verify_checkpoint",
    "verify_consistency",
    "verify_cosignatures",
    "verify_entries",
    "verify_inclusion",
    "verify_key_rotation",
    "verify_media",
    "verify_note",
    "verify_range",
    "verify_range_proof",
]
