"""Import a registry file: parse, validate everything, then write everything in one transaction.

Separation of duties (README "Separation of duties"; :mod:`archive.identity.duties` rule 1):
sharing a private owner's cameras is that owner's decision, so the operator's import may set a
private owner's ``agencies`` when it creates the owner, and afterwards only remove agencies -
never add one, never turn a private owner into a government one (whose sharing the
administration sets), and never move a registered camera to another owner (its recordings
would follow the other owner's sharing).
"""

from __future__ import annotations

from pathlib import Path

from archive.catalog.notes import ChangeNote
from archive.catalog.registry import ImportReport, RegistryRepository
from archive.errors import Problem, ValidationError
from archive.model import OwnerKind
from archive.registry.parse import read_registry_file
from archive.registry.validate import RegistryInput, validate_registry


def _duty_problems(checked: RegistryInput, repo: RegistryRepository) -> list[Problem]:
    problems: list[Problem] = []
    before = {o.id: o for o in repo.owners()}
    for new in checked.owners:
        old = before.get(new.id)
        if old is None or old.kind is not OwnerKind.PRIVATE:
            continue
        where = f"{checked.path}: owner {new.id}"
        added = sorted(set(new.agencies) - set(old.agencies))
        if added:
            problems.append(Problem(where, f"{new.id} is a private owner: adding {', '.join(added)} to its sharing "
                                           "is the owner's decision (its staff set it over the API); an import may "
                                           "only remove agencies from an existing private owner"))  # fmt: skip
        if new.kind is not OwnerKind.PRIVATE:
            problems.append(Problem(where, f"{new.id} is a private owner; an import does not make it {new.kind.value}"))
    owner_of = {c.id: c.owner_id for c in repo.cameras()}
    for c in checked.cameras:
        was = owner_of.get(c.camera.id)
        if was is not None and was != c.camera.owner_id:
            problems.append(Problem(f"{checked.path}:{c.line}", f"camera {c.camera.id} belongs to owner {was}; "
                                    "a registered camera never moves to another owner"))  # fmt: skip
    return problems


def import_registry(path: Path, repo: RegistryRepository, *, force: bool = False,
                    note: ChangeNote | None = None) -> ImportReport:  # fmt: skip
    """Import owners and cameras from ``path`` idempotently (``note``: the audit entry commits
    with the import, :meth:`RegistryRepository.apply`).

    Raises ValidationError (listing every problem with file:line, including the separation
    of duties rules above; nothing written) or CatalogError (the transaction rolled back;
    nothing written).
    """
    raw = read_registry_file(path)
    existing = [o.id for o in repo.owners()]
    checked = validate_registry(raw, existing)
    problems = _duty_problems(checked, repo)
    if problems:
        raise ValidationError(problems)
    return repo.apply(checked.owners, [(c.camera, c.password) for c in checked.cameras], force=force, note=note)
