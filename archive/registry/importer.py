"""Import a registry file: parse, validate everything, then write everything in one transaction."""

from __future__ import annotations

from pathlib import Path

from archive.catalog.registry import ImportReport, RegistryRepository
from archive.registry.parse import read_registry_file
from archive.registry.validate import validate_registry


def import_registry(path: Path, repo: RegistryRepository, *, force: bool = False) -> ImportReport:
    """Import owners and cameras from ``path`` idempotently.

    Raises ValidationError (listing every problem with file:line; nothing written) or
    CatalogError (the transaction rolled back; nothing written).
    """
    raw = read_registry_file(path)
    existing = [o.id for o in repo.owners()]
    checked = validate_registry(raw, existing)
    return repo.apply(checked.owners, [(c.camera, c.password) for c in checked.cameras], force=force)
