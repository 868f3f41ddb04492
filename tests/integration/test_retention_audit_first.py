"""Retention deletions are audited BEFORE they happen (SPEC 7.6): ``retention.delete_planned``
(camera, seq range, rule, count) is committed and covered by a signed head before the first
object version of its selection is deleted; when it cannot be written, nothing is deleted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.audit.entry import AuditRecord
from archive.audit.query import AuditFilter
from archive.audit.service import AuditTrail
from archive.bootstrap.assemble import assemble_holds, assemble_retention
from archive.errors import CatalogError
from archive.identity.model import Role
from archive.retention.audit import HoldActor
from archive.retention.service import RetentionService
from archive.retention.settings import RetentionSettings
from tests.integration.retention_support import DAY, REnv, make_renv, starts, wait_until

ADMIN = HoldActor("ani", Role.ADMIN)


@pytest.fixture
def renv(catalog_url: str, s3_store: Any, retention_store: Any, tmp_path: Path) -> Any:
    env = make_renv(catalog_url, retention_store, tmp_path, admin=s3_store, own_log_bucket=True)
    yield env
    env.engine.dispose()


def _service(renv: REnv) -> tuple[RetentionService, AuditTrail]:
    trail = AuditTrail(renv.engine, renv.ledger.audit_keys, renv.store, origin_prefix=f"{renv.tag}.archive",
                       log_bucket=renv.logs, retention=timedelta(days=1))  # fmt: skip
    settings = RetentionSettings(policies_dir=renv.policies, media_bucket=renv.media, default_keep_days=14,
                                 delete_workers=4, batch_size=4)  # fmt: skip
    holds = assemble_holds(engine=renv.engine, store=renv.store, cameras=lambda: renv.cams, settings=settings,
                           now=renv.clock, audit=trail)  # fmt: skip
    svc = assemble_retention(engine=renv.engine, store=renv.store, ledger=renv.ledger, cameras=lambda: renv.cams,
                             settings=settings, now=renv.clock, usage=renv.usage, holds=holds)  # fmt: skip
    return svc, trail


def test_planned_deletions_are_sealed_before_the_first_version_is_deleted(
    renv: REnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    lobby = renv.cam("lobby")
    old = renv.record(lobby, starts(renv.clock() - 20 * DAY, 5), renv.upload_lock())  # sunrise-mall keeps 14 days
    wait_until(renv.clock() + timedelta(seconds=2))
    svc, trail = _service(renv)
    seen: list[tuple[int, int]] = []  # (planned entries so far, signed size) at each delete
    real = renv.store.delete_version

    def watched(*args: Any, **kwargs: Any) -> Any:
        planned = trail.events(AuditFilter(action="retention.delete_planned"))
        head = trail.latest()
        seen.append((max((e.seq for e in planned), default=-1), head.size if head else 0))
        return real(*args, **kwargs)

    monkeypatch.setattr(renv.store, "delete_version", watched)
    report = svc.run(actor=ADMIN)
    assert report.execution.deleted == 5 and len(seen) == 5
    assert all(0 <= seq < size for seq, size in seen), seen  # recorded AND covered before every delete
    [planned] = [e.record for e in trail.events(AuditFilter(action="retention.delete_planned"))]
    assert planned.actor == "ani" and planned.detail["camera"] == lobby
    got = (planned.detail["from_seq"], planned.detail["to_seq"], planned.detail["count"])
    assert got == (old[0][0], old[-1][0] + 1, 5)
    assert planned.detail["rule"] == "sunrise-mall.toml#keep_days:14d"
    done = trail.events(AuditFilter(action="retention.delete"))[0]
    assert done.seq > trail.events(AuditFilter(action="retention.delete_planned"))[0].seq
    assert trail.verify().ok


def test_nothing_is_deleted_when_the_planned_entry_cannot_be_written(
    renv: REnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    lobby = renv.cam("lobby")
    renv.record(lobby, starts(renv.clock() - 20 * DAY, 5), renv.upload_lock())
    wait_until(renv.clock() + timedelta(seconds=2))
    svc, trail = _service(renv)
    before = renv.versions(lobby)
    real = trail.record

    def refusing(record: AuditRecord) -> Any:
        if record.action == "retention.delete_planned":
            raise CatalogError("audit append refused")
        return real(record)

    monkeypatch.setattr(trail, "record", refusing)
    with pytest.raises(CatalogError, match="audit append refused"):
        svc.run(actor=ADMIN)
    assert renv.versions(lobby) == before and not any(renv.pruned(lobby).values())
    assert [e.record.action for e in trail.events(AuditFilter(action="retention.run_failed"))] == [
        "retention.run_failed"
    ]
