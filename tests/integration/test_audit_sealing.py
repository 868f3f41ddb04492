"""Seal coalescing (archive.audit.sealing): one signed head per request, concurrent seals share
one head, a caller already covered signs nothing; each answered entry stays covered (SPEC 7.6)."""

from __future__ import annotations

import threading
from datetime import timedelta

from litestar.testing import TestClient
from sqlalchemy import func, select

from archive.audit.entry import AuditRecord, Result
from archive.audit.query import AuditFilter
from archive.audit.tables import CHECKPOINT
from tests.integration.api_support import T0, ApiEnv, iso, sealed_api_env_fixture  # noqa: F401

P = "/api/v1"


def _heads(env: ApiEnv) -> int:
    with env.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CHECKPOINT)).scalar_one())


def _record(i: int) -> AuditRecord:
    return AuditRecord(at_us=1_700_000_000_000_000 + i, ip="local", action="test.seal", method="CLI", path="/t",
                       status=200, actor="t", agency=None, owner=None, role="admin", token=None,
                       target={"i": str(i)}, detail={})  # fmt: skip


def test_one_request_one_signed_head_covering_its_change_and_its_request(api_env: ApiEnv) -> None:
    """A change note (user.add, token.create, registry.change, hold.create) and the gate's entry of
    the request are covered by ONE head, published before the answer (3 log-bucket objects, not 6)."""
    admin, owner, inv = api_env.auth("admin"), api_env.auth("owner"), api_env.auth("investigator")
    calls = [
        ("post", "/users", admin, {"id": "budi", "name": "Budi", "role": "investigator", "agency": "police"}, 201),
        ("post", "/users/inv1/tokens", inv, {"days": 1}, 201),
        ("put", "/owners/mall/sharing", owner, {"agencies": ["police"]}, 200),
        ("post", "/holds", inv, {"case_id": "LP/1/2025", "reason": "theft", "cameras": ["cam-a"], "start": iso(T0),
                                 "end": iso(T0 + timedelta(minutes=5))}, 201),
    ]  # fmt: skip
    with TestClient(api_env.app()) as c:
        for method, path, who, body, want in calls:
            heads, size = _heads(api_env), api_env.audit.size()
            r = getattr(c, method)(f"{P}{path}", json=body, headers=who)
            assert r.status_code == want, (path, r.text)
            assert api_env.audit.size() >= size + 2, path  # the change's entry and the request's
            assert _heads(api_env) == heads + 1, f"{path}: {_heads(api_env) - heads} signed heads for one request"
            head = api_env.audit.latest()
            assert head is not None and head.size == api_env.audit.size(), path  # covered before the answer


def test_concurrent_seals_share_one_head_and_each_caller_is_covered(api_env: ApiEnv) -> None:
    trail, n = api_env.audit, 8
    trail.record(_record(-1))
    before, barrier = _heads(api_env), threading.Barrier(n)
    covered: list[bool] = []
    errors: list[BaseException] = []

    def caller(i: int) -> None:
        try:
            seq = trail.record_unsealed(_record(i)).seq
            barrier.wait()
            trail.seal()
            head = trail.latest()
            covered.append(head is not None and head.size > seq)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and covered == [True] * n
    signed = _heads(api_env) - before
    assert 1 <= signed < n, f"{signed} heads for {n} concurrent seals"
    assert trail.verify().ok


def test_a_caller_already_covered_signs_nothing(api_env: ApiEnv) -> None:
    trail = api_env.audit
    trail.record(_record(0))
    heads = _heads(api_env)
    assert trail.signer is not None
    real, asked = trail.signer.checkpoint, []

    def counting() -> object:
        asked.append(1)
        return real()

    trail.signer.checkpoint = counting  # type: ignore[method-assign]
    for _ in range(3):
        head = trail.seal()
        assert head is not None and head.size == trail.size()
    assert asked == [] and _heads(api_env) == heads  # not even a read of the store's latest pointer
    trail.record_unsealed(_record(1))
    assert trail.seal() is not None and asked == [1] and _heads(api_env) == heads + 1
    assert [e.record.result for e in trail.events(AuditFilter(action="test.seal"))] == [Result.OK, Result.OK]
