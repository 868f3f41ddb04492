"""The archive and a real ``archive witness serve``: the checkpointer's witness submission gets
each new checkpoint cosigned (with the consistency proof from the witness's size) and stores the
cosignature; an insider's fork of a log (a copy of the catalog, same signing key, an outage
replaced by recordings) is refused by the witness (409, then 422) and a package built from it is
INVALID under the witness policy, while the honest package is VALID; ``[export] witness_policy``
refuses to build without the cosignatures. One witness process and two archives per module."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete

from archive.api.status import witness_metrics
from archive.cli import main
from archive.cli.witness import witness_status
from archive.config import load_config
from archive.errors import ConflictError
from archive.export.verifier.checks import verify_package
from archive.health import witness_checks
from archive.integrity import SignedNote, require_cosignatures
from archive.ledger import repo as lrepo
from archive.ledger.witness import witness_keygen
from archive.ledger.witnessing import STATUS_FILE, WitnessSubmitter, cosigned_sizes, witness_clients, witness_report
from archive.storage.s3 import S3Store
from archive.witness.client import WitnessClient
from tests.fixtures.ports import free_port
from tests.integration import export_support as xs
from tests.integration.ledger_support import new_bucket
from tests.integration.witness_support import WitnessProcess, make_witness

CAMS = ("cam-a", "mall-1")


@dataclass
class World:
    witness: WitnessProcess
    honest: xs.XEnv
    honest_sub: WitnessSubmitter
    fork: xs.XEnv
    fork_sub: WitnessSubmitter
    fork_failures: dict[str, str]
    clips: list[bytes]


def _late(holder: dict[str, WitnessSubmitter]):  # the builder's hook, bound once the submitter exists
    return lambda cams: holder["s"].submit(cams)


@pytest.fixture(scope="module")
def world(s3_store: S3Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("witness-archive")
    clips = xs.make_clips(tmp / "clips")
    a_hook: dict[str, WitnessSubmitter] = {}
    wkey = witness_keygen("police.example/witness")
    a = xs.make_env(f"sqlite:///{tmp / 'a.sqlite3'}", s3_store, tmp, working_copy=False, cosign=_late(a_hook),
                    witness_keys=(wkey.verifier_key,), witness_quorum=1)  # fmt: skip
    prefix = a.ledger.settings.origin_prefix + "/camera/"
    w = make_witness(tmp / "witness", prefix, [a.ledger.keys.active().public.encode()], signer=wkey).start()
    client = WitnessClient(w.url, w.signer.verifier_key, 10.0)
    a_sub = a_hook["s"] = WitnessSubmitter(a.ledger, [client], tmp / "a-witness-status.json")
    # shared history: mall-1 whole, cam-a's first 4 segments; signed and cosigned
    for i in range(8):
        xs.store_segment(a, "mall-1", clips[i], xs.T0 + i * xs.CLIP)
    a.ledger.append_gap("mall-1", xs.T0 + 8 * xs.CLIP, xs.T0 + 10 * xs.CLIP, "recorder_stopped", "")
    for i in range(4):
        xs.store_segment(a, "cam-a", clips[i], xs.T0 + i * xs.CLIP)
    a.ledger.checkpointer().run_once()
    assert a_sub.submit(CAMS) == {}
    # the insider copies the catalog (the key ring with it) ...
    with sqlite3.connect(tmp / "a.sqlite3") as src, sqlite3.connect(tmp / "b.sqlite3") as dst:
        src.backup(dst)
    # ... the honest archive goes on: an outage of cam-a, then 4 more segments
    a.ledger.append_gap("cam-a", xs.T0 + 4 * xs.CLIP, xs.T0 + 6 * xs.CLIP, "camera_unreachable", "RTSP timeout")
    for i in range(4):
        xs.store_segment(a, "cam-a", clips[4 + i], xs.T0 + (6 + i) * xs.CLIP)
    Checkpointer = type(a.ledger.checkpointer())
    Checkpointer(a.engine, a.ledger.signer, 60.0, after_round=a_sub.submit).run_once()  # type: ignore[arg-type]
    # ... while the fork hides the outage with 6 recordings, signs with the same key and submits
    b_hook: dict[str, WitnessSubmitter] = {}
    b = xs.make_env(f"sqlite:///{tmp / 'b.sqlite3'}", s3_store, tmp / "fork", working_copy=False,
                    witness_keys=(w.signer.verifier_key,), cosign=_late(b_hook), fork_of=a,
                    log_bucket=new_bucket(s3_store, "forklog"))  # fmt: skip
    b_sub = b_hook["s"] = WitnessSubmitter(b.ledger, [client], tmp / "b-witness-status.json")
    for j in range(6):
        xs.store_segment(b, "cam-a", clips[(4 + j) % 8], xs.T0 + (4 + j) * xs.CLIP)
    b.ledger.checkpoint("cam-a")
    failures = b_sub.submit(["cam-a"])
    yield World(w, a, a_sub, b, b_sub, failures, clips)
    w.stop()
    for env in (a, b):
        env.engine.dispose()  # type: ignore[attr-defined]


def test_the_checkpointer_gets_each_new_checkpoint_cosigned(world: World) -> None:
    key = world.witness.signer.verifier_key
    for cam, size in (("cam-a", 9), ("mall-1", 9)):
        view = world.honest.ledger.signer.latest(cam)
        assert view is not None and view.size == size and view.cosignatures == 1
        require_cosignatures(SignedNote.parse(view.note), [key], 1)
    (h,) = witness_report(world.honest.engine, world.honest_sub.clients, world.honest.tmp.parent / "x")
    assert (h.logs, h.behind, h.last_size, h.failures) == (2, 0, 9, 0) and h.ok and h.age_s is not None


def test_the_fork_is_refused_by_the_witness(world: World) -> None:
    assert set(world.fork_failures) == {"cam-a"}
    assert "(422)" in world.fork_failures["cam-a"] and "does not verify" in world.fork_failures["cam-a"]
    view = world.fork.ledger.signer.latest("cam-a")
    assert view is not None and view.size == 10 and view.cosignatures == 0
    status = (world.fork.tmp.parent / "b-witness-status.json").read_text()
    assert '"failures": 1' in status and "422" in status
    # the next round tries again (from the witness's size 9 at once) and is refused again
    more = world.fork_sub.submit(["cam-a"])
    assert "(422)" in more["cam-a"]


def test_the_honest_package_is_valid_under_the_policy(world: World, tmp_path: Path) -> None:
    env = world.honest
    path = xs.approve_and_build(env, xs.request(env))
    key = world.witness.signer.verifier_key.encode()
    o = verify_package(path, trust=env.trust, witness=[key], witness_quorum=1)
    assert o.valid, o.failures
    assert "witness policy" not in " ".join(o.failures)


def test_a_package_of_the_fork_is_invalid_under_the_policy(world: World) -> None:
    env = world.fork
    with pytest.raises(ConflictError, match="has 0 of the 1 witness cosignatures"):  # the policy refuses to build it
        quorum_env = xs.make_env(f"sqlite:///{env.tmp.parent / 'b.sqlite3'}", env.store, env.tmp / "q",
                                 working_copy=False, witness_keys=(world.witness.signer.verifier_key,),
                                 witness_quorum=1, fork_of=world.honest,
                                 log_bucket=env.ledger.settings.log_bucket)  # fmt: skip
        xs.approve_and_build(quorum_env, xs.request(quorum_env))
    path = xs.approve_and_build(env, xs.request(env))  # the insider builds it without a policy
    key = world.witness.signer.verifier_key.encode()
    plain = verify_package(path, trust=env.trust)
    assert plain.valid, plain.failures  # with the archive's own key alone, the fork looks fine ...
    o = verify_package(path, trust=env.trust, witness=[key], witness_quorum=1)
    assert not o.valid  # ... the witness policy catches it
    assert any("no valid cosignature by the trusted witness" in f for f in o.failures), o.failures
    assert all("camera cam-a" in f or "camera" not in f for f in o.failures)


def test_quorum_q_of_n_witnesses(world: World) -> None:
    env = world.honest
    path = next((env.tmp / "exports").rglob("*.zip"))
    key = world.witness.signer.verifier_key.encode()
    others = [witness_keygen(f"w{i}.example/witness").verifier_key.encode() for i in (2, 3)]
    one_of_two = verify_package(path, trust=env.trust, witness=[key, others[0]], witness_quorum=1)
    assert one_of_two.valid, one_of_two.failures
    assert "witness policy 1 of 2: met (1 trusted witnesses cosigned size 9)" in " ".join(
        d for c in one_of_two.checks for d in c.details)
    two_of_three = verify_package(path, trust=env.trust, witness=[key, *others], witness_quorum=2)
    assert not two_of_three.valid
    assert sorted(two_of_three.failures) == [
        f"camera {cam}: witness policy 2 of 3: NOT met, only 1 of the trusted witnesses cosigned this checkpoint "
        "(size 9): no independent party vouches that this is the log they saw" for cam in CAMS]
    two_of_two = verify_package(path, trust=env.trust, witness=[key, others[0]])  # default: all n
    assert not two_of_two.valid and len(two_of_two.failures) == 2


def test_the_quorum_option_of_both_verifiers(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``archive verify package`` and the bundled ``verify_package.py`` share the options: a bad
    quorum is bad usage (exit 2, one sentence); 1 of 1 with the real witness is VALID (exit 0)."""
    path = next((world.honest.tmp / "exports").rglob("*.zip"))
    key = world.witness.signer.verifier_key.encode()
    trust = world.honest.trust_args
    assert main(["verify", "package", str(path), "--witness-quorum", "1", "--quiet"]) == 2
    assert main(["verify", "package", str(path), "--witness", key, "--witness-quorum", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--witness-quorum needs the witness keys" in err and "must be between 1 and the 1 --witness keys" in err
    assert main(["verify", "package", str(path), *trust, "--witness", key, "--witness-quorum", "1",
                 "--quiet"]) == 0  # fmt: skip
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
    (folder,) = list(tmp_path.iterdir())
    bundled = subprocess.run([sys.executable, str(folder / "verify_package.py"), *trust, "--witness", key,
                              "--witness-quorum", "1", "--quiet"], capture_output=True, text=True, timeout=120)
    assert bundled.returncode == 0, bundled.stdout + bundled.stderr
    assert "witness cosignature by police.example/witness" in bundled.stdout


def test_witnesses_in_health_status_and_metrics(world: World, tmp_path: Path) -> None:
    """The live witness is healthy; a witness nobody answers for is reported with its failures
    (health check, ``archive status`` lines and JSON, metrics)."""
    env = world.honest
    dead_key = witness_keygen("court.example/witness")
    dead_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    data = tmp_path / "data"
    WitnessSubmitter(env.ledger, [WitnessClient(dead_url, dead_key.verifier_key, 2.0)],
                     data / STATUS_FILE).submit()  # fmt: skip
    live = world.witness.signer.verifier_key.encode()
    (tmp_path / "archive.toml").write_text(
        f'[paths]\ndata_dir = "data"\n[catalog]\nurl = "sqlite:///{env.tmp / "a.sqlite3"}"\n[ledger]\n'
        f'witnesses = [{{url = "{world.witness.url}", key = "{live}"}},\n'
        f'  {{url = "{dead_url}", key = "{dead_key.verifier_key.encode()}"}}]\n')
    cfg = load_config(tmp_path / "archive.toml", env={})
    docs, lines, bad = witness_status(cfg)
    assert bad and len(docs) == 2 and [d["ok"] for d in docs] == [True, False]
    assert lines[0].startswith("witness police.example/witness+") and " ok: " in lines[0]
    assert "cosigned up to size 9" in lines[0] and "0 of 2 logs behind" in lines[0]
    assert "PROBLEM" in lines[1] and "has cosigned no checkpoint yet" in lines[1] and "2 logs failing" in lines[1]
    assert "no answer" in lines[1] and "earlier in this round" in lines[1]  # asked once per round

    @dataclass
    class Parts:  # what archive health looks at, over the real catalog and configuration
        config: object
        engine: object

    checks = witness_checks(Parts(cfg, env.engine))  # type: ignore[arg-type]
    assert [c.ok for c in checks] == [True, False] and checks[1].name.startswith("witness court.example/witness+")
    clients = witness_clients(cfg.ledger.witnesses)
    samples = list(witness_metrics(lambda: witness_report(env.engine, clients, cfg.data_dir))())
    by = {(m.name, m.labels[0][1].split("+")[0]): m.value for m in samples}
    assert by[("archive_witness_cosigned_size", "police.example/witness")] == 9
    assert by[("archive_witness_healthy", "police.example/witness")] == 1
    assert by[("archive_witness_failing_logs", "court.example/witness")] == 2
    assert by[("archive_witness_healthy", "court.example/witness")] == 0
    assert ("archive_witness_cosignature_age_seconds", "court.example/witness") not in by


def test_a_409_is_retried_from_the_witness_size(world: World) -> None:
    """The catalog lost mall-1's cosignatures (restored without them): the archive sends old 0, the
    witness answers 409 with its size 9, the archive retries from 9 and gets its cosignature back."""
    env = world.honest
    origin = env.ledger.log_id("mall-1")
    with env.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(delete(lrepo.COSIGNATURE).where(lrepo.COSIGNATURE.c.log_id == origin))
    assert env.ledger.signer.latest("mall-1").cosignatures == 0  # type: ignore[union-attr]
    assert world.honest_sub.submit(["mall-1"]) == {}
    view = env.ledger.signer.latest("mall-1")
    assert view is not None and view.size == 9 and view.cosignatures == 1
    require_cosignatures(SignedNote.parse(view.note), [world.witness.signer.verifier_key], 1)


def test_a_witness_that_lost_its_state_fails_health_by_name(world: World, tmp_path: Path) -> None:
    """A witness that lost its state (state file gone, or an older copy restored) answers 409
    with a smaller size than the one whose cosignature the archive holds. Its cosignatures no
    longer vouch for a single view of the log, so the archive does not quietly start it over from
    that size: the submission fails with "lost its state", and health, ``archive status`` and the
    metrics say so by the witness's name until it holds the right size again."""
    env = world.honest
    w = make_witness(tmp_path / "w2", env.ledger.settings.origin_prefix + "/camera/",
                     [env.ledger.keys.active().public.encode()], name="court.example/witness").start()
    data = tmp_path / "data"
    try:
        client = WitnessClient(w.url, w.signer.verifier_key, 10.0)
        assert WitnessSubmitter(env.ledger, [client], data / STATUS_FILE).submit(CAMS) == {}
        older = w.state.read_bytes()
        w.stop()
        w.state.unlink()  # the witness host lost its disk
        w.start()
        client = WitnessClient(w.url, w.signer.verifier_key, 10.0)
        sub = WitnessSubmitter(env.ledger, [client], data / STATUS_FILE)
        for cam in ("cam-a",):  # one more checkpoint, so there is something new to cosign
            xs.store_segment(env, cam, world.clips[0], xs.T0 + 20 * xs.CLIP)
            env.ledger.checkpoint(cam)
        failed = sub.submit(CAMS)
        assert set(failed) == {"cam-a"}, failed  # mall-1 has nothing new: not asked
        assert "LOST ITS STATE" in failed["cam-a"] and "holds size 0" in failed["cam-a"], failed
        assert cosigned_sizes(env.engine, w.signer.verifier_key)[env.ledger.log_id("cam-a")][0] == 9  # not 10
        assert "LOST ITS STATE" in sub.submit(["cam-a"])["cam-a"]  # every later round too: never cosigned from 0
        assert w.state.exists() is False or b"cam-a" not in w.state.read_bytes()

        (tmp_path / "archive.toml").write_text(
            f'[paths]\ndata_dir = "data"\n[catalog]\nurl = "sqlite:///{env.tmp / "a.sqlite3"}"\n[ledger]\n'
            f'witnesses = [{{url = "{w.url}", key = "{w.signer.verifier_key.encode()}"}}]\n')
        cfg = load_config(tmp_path / "archive.toml", env={})
        docs, lines, bad = witness_status(cfg)
        assert bad and docs[0]["ok"] is False and docs[0]["state_lost"] == 1, docs
        assert "PROBLEM" in lines[0] and "LOST ITS STATE" in lines[0], lines

        @dataclass
        class Parts:
            config: object
            engine: object

        (check,) = witness_checks(Parts(cfg, env.engine))  # type: ignore[arg-type]
        assert not check.ok and check.name.startswith("witness court.example/witness+")
        assert "LOST ITS STATE" in check.detail, check.detail
        samples = list(witness_metrics(lambda: witness_report(env.engine, witness_clients(cfg.ledger.witnesses),
                                                              cfg.data_dir))())  # fmt: skip
        by = {m.name: m.value for m in samples}
        assert by["archive_witness_state_lost_logs"] == 1 and by["archive_witness_healthy"] == 0, by

        w.stop()
        w.state.write_bytes(b'{"v": 1, "logs": {"x": ')  # a corrupt state: the witness refuses to start on it
        with pytest.raises(AssertionError, match="the witness state does not read"):
            w.start()  # (the archive then reports it as not answering: a failing witness)
        w.state.write_bytes(older)  # its operator restores the state it had (a backup): it holds what it cosigned
        w.start()
        client = WitnessClient(w.url, w.signer.verifier_key, 10.0)
        assert WitnessSubmitter(env.ledger, [client], data / STATUS_FILE).submit(["cam-a"]) == {}
        (h,) = witness_report(env.engine, [client], data)
        assert h.ok and h.state_lost == 0, h
    finally:
        if w.proc is not None:
            w.stop()
