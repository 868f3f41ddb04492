"""What one package build is given: the export, the registry facts, who builds, the signing key.

A module of its own so that the builder and the static files it adds (:mod:`archive.export.static`)
both use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from archive.export.model import Actor, ExportRecord
from archive.integrity import Signer, VerifierKey
from archive.model import Camera, Owner

__all__ = ["BuildJob"]


@dataclass(frozen=True)
class BuildJob:
    """What to build: the export, registry facts, who builds, the key that signs."""

    record: ExportRecord
    cameras: Mapping[str, Camera]
    owners: Mapping[str, Owner]
    requester: Actor
    operator: Actor
    archive_name: str
    signer: Signer
    keys: tuple[VerifierKey, ...]
