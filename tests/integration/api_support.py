"""Helpers shared by the API tests (not a test module): a catalog with owners, cameras, users
of every role, recordings (real objects in the embedded store, logged by the ledger), the real
export parts over them, and an app built from explicit dependencies."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import Engine

from archive.api.app import create_app
from archive.api.deps import ApiDeps, ApiSettings
from archive.api.ports import CheckResult, Metric
from archive.audit.service import AuditTrail
from archive.bootstrap.assemble import assemble_exports, assemble_holds
from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.catalog.registry import RegistryRepository
from archive.export.model import ExportSettings
from archive.export.parts import Exports
from archive.identity.model import Role
from archive.identity.service import IdentityService
from archive.integrity import GapReason, MediaInfo
from archive.ledger import Ledger, LedgerSettings, SegmentFacts
from archive.ledger.verify import verify_camera
from archive.model import Camera, Owner, OwnerKind, us_from_utc
from archive.retention.planner import CameraPlan, Plan
from archive.retention.settings import RetentionSettings
from archive.search.service import SearchService
from archive.secretbox import SecretBox
from archive.storage.base import LockMode, ObjectStore, Retention
from tests.fixtures.claims import claiming_writer

T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)
SEG = timedelta(seconds=10)
MEDIA = MediaInfo(container="mpegts", codec="h264", width=1280, height=720, keyframe_start=True, partial=False)
ROLES = ("admin", "investigator", "legal", "owner", "auditor")

OWNERS = (
    Owner("dishub", "Dinas Perhubungan", OwnerKind.GOVERNMENT, ("police",)),
    Owner("mall", "Sunrise Mall", OwnerKind.PRIVATE, ()),
    Owner("kota", "Pemkot Mojokerto", OwnerKind.GOVERNMENT, ("police", "satpol")),
)
CAMERAS = (
    Camera("cam-a", "Simpang Empat Mojopahit", "dishub", "rtsp://10.0.0.1/a", -7.4722, 112.4338, "Jl. Mojopahit",
           ("intersection", "north")),
    Camera("cam-b", "Simpang Brawijaya", "dishub", "rtsp://10.0.0.2/b", -7.4730, 112.4345, "Jl. Brawijaya",
           ("intersection",)),
    Camera("mall-1", "Sunrise Mall lobby", "mall", "rtsp://10.0.1.1/l", -7.4725, 112.4340, "Mall lobby", ("indoor",)),
    Camera("kota-1", "Alun-alun", "kota", "rtsp://10.0.2.1/x", -7.4600, 112.4400, "Alun-alun Mojokerto", ("square",)),
)
USERS = {
    "admin": ("admin1", "Admin Satu", Role.ADMIN, "diskominfo", None),
    "investigator": ("inv1", "Penyidik Satu", Role.INVESTIGATOR, "police", None),
    "legal": ("legal1", "Legal Satu", Role.LEGAL, "police", None),
    "owner": ("own1", "Mall Staff", Role.OWNER, None, "mall"),
    "auditor": ("aud1", "Auditor Satu", Role.AUDITOR, "inspektorat", None),
}


def fake_plan() -> Plan:
    return Plan(us_from_utc(datetime.now(UTC)), (
        CameraPlan("cam-a", "dishub", ()), CameraPlan("mall-1", "mall", ()), CameraPlan("kota-1", "kota", ()),
    ))


@dataclass
class ApiEnv:
    """Everything an API test needs."""

    engine: Engine
    store: ObjectStore
    media: str
    logs: str
    ledger: Ledger
    identity: IdentityService
    audit: AuditTrail
    deps: ApiDeps
    exports: Exports
    tokens: dict[str, str] = field(default_factory=dict)
    extra_tokens: dict[str, str] = field(default_factory=dict)
    seqs: dict[str, list[int]] = field(default_factory=dict)

    def app(self) -> Any:
        return create_app(self.deps)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _bucket(store: ObjectStore, kind: str) -> str:
    name = f"{kind}-{uuid.uuid4().hex[:16]}"
    store.ensure_bucket(name, object_lock=True)
    return name


def record_segments(env: ApiEnv, camera: str, n: int, start: datetime = T0, size: int = 2000) -> list[int]:
    """Put ``n`` consecutive 10 s segments of ``camera`` into the media bucket and log them."""
    seqs = []
    for i in range(n):
        begin = start + i * SEG
        body = hashlib.shake_256(f"{camera}/{begin.isoformat()}".encode()).digest(size)
        key = f"{camera}/{begin:%Y/%m/%d/%H%M%S}.ts"
        put = env.store.put_bytes(env.media, key, body, content_type="video/mp2t",
                                  retention=Retention(LockMode.GOVERNANCE, datetime.now(UTC) + timedelta(days=1)))
        facts = SegmentFacts(object_key=key, version_id=put.version_id, sha256=hashlib.sha256(body).hexdigest(),
                             size=len(body), start=begin, end=begin + SEG, duration_us=10_000_000, media=MEDIA)
        seqs.append(env.ledger.append_segment(camera, facts).seq)
    return seqs


def make_env(url: str, store: ObjectStore, tmp_path: Path, *, with_recordings: bool = True,
             settings: ApiSettings | None = None, checkpoint_audit: bool = False,
             journal: Path | Literal["default"] | None = "default") -> ApiEnv:
    """The API's world on catalog ``url``. Its audit trail seals as the runtime's does: through the
    local journal under ``tmp_path`` (SPEC 7.6), unless ``journal`` names another one or is None
    (every record signed into the store at once, for the tests of that path)."""
    if journal == "default":
        journal = tmp_path / "audit" / "journal"
    engine = make_engine(url)
    upgrade(engine)
    box = SecretBox.from_key_file(tmp_path / "keys" / "credentials.key")
    registry = RegistryRepository(engine, box)
    registry.apply(OWNERS, [(c, "secret" if c.id == "cam-a" else None) for c in CAMERAS])
    media, logs = _bucket(store, "media"), _bucket(store, "logs")
    lsettings = LedgerSettings(media_bucket=media, log_bucket=logs, log_retention=timedelta(days=1))
    ledger = Ledger(engine, store, box, lsettings, claims=claiming_writer(engine))
    identity = IdentityService(engine)
    audit = AuditTrail(engine, ledger.audit_keys, store, origin_prefix=lsettings.origin_prefix,
                       log_bucket=logs, retention=timedelta(days=1), journal=journal)
    holds = assemble_holds(engine=engine, store=store, cameras=lambda: CAMERAS,
                           settings=RetentionSettings(policies_dir=tmp_path / "policies"), audit=audit)
    exports = assemble_exports(engine=engine, store=store, ledger=ledger, registry=registry, holds=holds, audit=audit,
                               policies=lambda: None, auto_build=False,
                               settings=ExportSettings(exports_dir=tmp_path / "exports", working_copy=False))

    def verifier(cam: str, lo: datetime | None, hi: datetime | None, media_check: bool) -> Any:
        return verify_camera(ledger, cam, time_from=lo, time_to=hi, media=media_check)

    # failed_auth_limit=0: these tests send many bad tokens from one test client on purpose; the
    # limit itself is attacked against the served API (tests/integration/test_api_limits.py)
    unlimited = ApiSettings(failed_auth_limit=0)
    deps = ApiDeps(
        identity=identity, search=SearchService(engine), audit=audit, settings=settings or unlimited,
        registry=registry, media=store, holds=holds, retention_plan=fake_plan, exports=exports,
        verifier=verifier, health_checks=(lambda: CheckResult("storage", True, "fake"),),
        metric_sources=(lambda: [Metric("archive_recorder_cameras", "cameras recording", "gauge", 3)],),
        checkpoint_audit=checkpoint_audit,
    )
    env = ApiEnv(engine, store, media, logs, ledger, identity, audit, deps, exports=exports)
    for role, (uid, name, r, agency, owner) in USERS.items():
        identity.add_user(uid, name, r, agency=agency, owner_id=owner)
        env.tokens[role] = identity.create_token(uid, days=30, label="test").secret
    past = IdentityService(engine, now_us=lambda: time.time_ns() // 1000 - 3 * 86_400_000_000)
    env.extra_tokens["expired"] = past.create_token("inv1", days=1, label="expired").secret
    revoked = identity.create_token("inv1", days=30, label="revoked")
    identity.revoke_token(revoked.token.id)
    env.extra_tokens["revoked"] = revoked.secret
    identity.add_user("gone1", "Former", Role.INVESTIGATOR, agency="police")
    env.extra_tokens["revoked_user"] = identity.create_token("gone1", days=30).secret
    identity.revoke_user("gone1")
    if with_recordings:
        env.seqs["cam-a"] = record_segments(env, "cam-a", 30)
        ledger.append_gap("cam-a", T0 + 30 * SEG, T0 + 36 * SEG, GapReason.CAMERA_UNREACHABLE, "no route to host")
        env.seqs["cam-a"] += record_segments(env, "cam-a", 12, start=T0 + 36 * SEG)
        env.seqs["mall-1"] = record_segments(env, "mall-1", 6)
        env.seqs["kota-1"] = record_segments(env, "kota-1", 6)
        ledger.append_prune("cam-a", env.seqs["cam-a"][0], env.seqs["cam-a"][3], "test-rule")
        for cam in ("cam-a", "mall-1", "kota-1"):
            ledger.checkpoint(cam)
    return env


def iso(dt: datetime) -> str:
    return dt.isoformat()


def ids(items: Sequence[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


@pytest.fixture(name="api_env")
def api_env_fixture(catalog_url: str, s3_store: ObjectStore, tmp_path: Path) -> Iterator[ApiEnv]:
    """An :class:`ApiEnv` on each catalog backend (import this name into a test module)."""
    env = make_env(catalog_url, s3_store, tmp_path)
    yield env
    env.engine.dispose()


@pytest.fixture(name="api_env")
def sealed_api_env_fixture(catalog_url: str, s3_store: ObjectStore, tmp_path: Path) -> Iterator[ApiEnv]:
    """An :class:`ApiEnv` whose audit trail has no journal: every record is signed into the store
    before the answer (``AuditTrail(journal=None)``). For the tests of that path, which pin the
    signed head in the store; import this name instead of ``api_env_fixture``."""
    env = make_env(catalog_url, s3_store, tmp_path, journal=None)
    yield env
    env.engine.dispose()
