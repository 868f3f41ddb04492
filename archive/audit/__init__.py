"""archive.audit: the hash-chained, signed audit trail of the API (``archive-audit/1``).

One log with origin ``<origin_prefix>/audit``: every entry is canonical JSON chained to the
previous one by SHA-256 and a leaf of an RFC 6962 Merkle tree; checkpoints are C2SP signed
notes made with the ledger's signing key (same machinery as the camera logs) and published to
the log bucket under COMPLIANCE object lock. The catalog rows are append-only (database
triggers); there is no code path that updates or deletes them.

- :mod:`.entry`: the record and its canonical bytes.
- :mod:`.log`: :class:`AuditLog`, appends (one entry, one transaction).
- :mod:`.signer`: :class:`AuditSigner` and the periodic :class:`AuditCheckpointer`.
- :mod:`.verify`: :func:`verify_audit`, the auditor's check.
- :mod:`.query`: reading entries back (filters, keyset pages).
- :mod:`.service`: :class:`AuditTrail`, the facade the API uses.
"""

from __future__ import annotations

from archive.audit.entry import AuditRecord, Result
from archive.audit.service import AuditTrail

__all__ = ["AuditRecord", "AuditTrail", "Result"]
