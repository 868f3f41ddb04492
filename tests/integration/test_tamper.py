"""Tamper suite: every manipulation of media, catalog, log or checkpoints is detected by
``verify camera`` / ``verify log`` with a message naming what and where.

Real embedded SeaweedFS (session fixture) and a real SQLite catalog. Camera A records real
MPEG-TS clips made by ffmpeg (2 s, 640x360 H.264, about 250 KB), camera B incompressible bytes. Each test
starts from a fresh world: A = seg 0-3, gap 4, seg 5-7, checkpoint 8, clock 8, seg 9 (slot 8 of the timeline),
checkpoint 10; B = seg 0-2, checkpoint 3. The attacker goes around the service: straight to
the store (new versions, governance-bypass deletes, SeaweedFS volume files on disk) and to the
catalog (SQL).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import imageio_ffmpeg
import pytest
from sqlalchemy import delete, text, update

from archive.integrity import (
    Checkpoint,
    Clock,
    CompactRange,
    Entry,
    IntegrityError,
    LogWriter,
    Payload,
    Segment,
    Signer,
    sign_note,
)
from archive.ledger import Ledger, repo
from archive.ledger.report import VerifyReport
from archive.ledger.settings import checkpoint_key, latest_checkpoint_key
from archive.ledger.verify import verify_camera
from archive.ledger.verify_log import verify_log
from archive.storage.s3 import S3Store
from tests.integration.ledger_support import T0, Env, make_env, make_ledger, store_segment

A, B = "cam-a", "cam-b"
CLIP = timedelta(seconds=2)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    out = tmp_path_factory.mktemp("clips")
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=640x360:rate=25,noise=alls=20:allf=t", "-t", "20", "-c:v", "libx264", "-b:v", "1M", "-g", "25",
         "-pix_fmt", "yuv420p", "-f", "segment", "-segment_time", "2", "-reset_timestamps", "1",
         str(out / "seg%03d.ts")],
        check=True,
    )  # fmt: skip
    data = [p.read_bytes() for p in sorted(out.glob("seg*.ts"))]
    assert len(data) >= 10 and all(len(d) > 100_000 and d[0] == 0x47 for d in data)  # MPEG-TS sync byte
    return data


@dataclass
class World:
    env: Env
    bodies: dict[tuple[str, int], bytes]

    @property
    def ledger(self) -> Ledger:
        return self.env.ledger

    def row(self, camera: str, seq: int) -> dict[str, object]:
        with self.env.engine.connect() as conn:
            return dict(conn.execute(text("SELECT * FROM segment WHERE camera_id = :c AND seq = :s"),
                                     {"c": camera, "s": seq}).mappings().one())  # fmt: skip

    def where(self, camera: str, seq: int) -> str:
        r = self.row(camera, seq)
        return f"{r['bucket']}/{r['object_key']}?versionId={r['version_id']}"

    def sql(self, stmt: str, **params: object) -> None:
        with self.env.engine.begin() as conn:
            conn.execute(text(stmt), params)
        self.ledger.appender.forget()

    def verify(self, camera: str = A, **kw: object) -> VerifyReport:
        return verify_camera(self.ledger, camera, **kw)  # type: ignore[arg-type]

    def verify_log(self, camera: str = A) -> VerifyReport:
        return verify_log(self.ledger, camera)

    def replace_object(self, camera: str, seq: int, body: bytes) -> str:
        """Delete the logged version (governance bypass) and put ``body`` under the same key."""
        r = self.row(camera, seq)
        self.env.store.delete_version(self.env.media, str(r["object_key"]), str(r["version_id"]),
                                      bypass_governance=True)  # fmt: skip
        return self.env.store.put_bytes(self.env.media, str(r["object_key"]), body).version_id


def _segment(w: World, camera: str, i: int, body: bytes, slot: int | None = None) -> None:
    """Store and log segment ``i`` covering timeline slot ``slot`` (default ``i``) of 2 s."""
    start = T0 + (i if slot is None else slot) * CLIP
    facts, _ = store_segment(w.env, camera, i, data=body, start=start)
    facts = replace(facts, end=facts.start + CLIP, duration_us=2_000_000)
    w.ledger.append_segment(camera, facts)
    w.bodies[(camera, i)] = body


def _null_packet(label: str) -> bytes:
    """An MPEG-TS null packet (PID 0x1FFF, ignored by players) carrying ``label``: makes each
    test's copy of a clip unique in the shared bucket's volume file."""
    return (b"\x47\x1f\xff\x10" + label.encode().ljust(184, b"\xff"))[:188]


@pytest.fixture
def world(s3_store: S3Store, tmp_path: Path, clips: list[bytes]) -> World:
    w = World(make_env(f"sqlite:///{tmp_path / 'catalog.sqlite3'}", s3_store, tmp_path), {})
    clips = [c + _null_packet(f"{w.env.tag}/{i}") for i, c in enumerate(clips)]
    for i in range(4):
        _segment(w, A, i, clips[i])
    w.ledger.append_gap(A, T0 + 4 * CLIP, T0 + 5 * CLIP, "camera_unreachable", "RTSP timeout")
    for i in range(5, 8):
        _segment(w, A, i, clips[i])
    assert w.ledger.checkpoint(A).size == 8  # type: ignore[union-attr]
    w.ledger.append_clock(A, Clock(at=T0 + 16 * CLIP, synced=True, source="chrony", offset_us=-80))
    _segment(w, A, 9, clips[9], slot=8)
    assert w.ledger.checkpoint(A).size == 10  # type: ignore[union-attr]
    for i in range(3):
        _segment(w, B, i, hashlib.shake_256(f"b{i}".encode()).digest(90_000))
    w.ledger.checkpoint(B)
    return w


def detected(report: VerifyReport, *needles: str, seq: int | None = None, obj: str | None = None) -> str:
    """Assert one failure mentions every needle (and the seq / object); return its message."""
    assert not report.ok, "\n".join(report.lines())
    for f in report.failures:
        msg = str(f)
        if all(n in msg for n in needles) and (seq is None or f.seq == seq) and (obj is None or obj == f.object):
            assert f.camera is not None and f"camera {f.camera}" in msg
            if os.environ.get("TAMPER_SHOW"):
                print(f"\n  detected: {msg}")
            return msg
    raise AssertionError(f"no failure with {needles} seq={seq} obj={obj}:\n" + "\n".join(report.lines()))


# -- helpers of the attacker ------------------------------------------------------------------


def forge_history(w: World, camera: str, edit: Callable[[list[Payload]], list[Payload]]) -> tuple[int, bytes]:
    """Rewrite the camera's whole log in the catalog (entries, chain, nodes, state), consistently."""
    origin = w.ledger.log_id(camera)
    with w.env.engine.begin() as conn:
        payloads = edit([Entry.decode(r.data).payload for r in repo.iter_entries(conn, origin)])
        conn.execute(delete(repo.ENTRY).where(repo.ENTRY.c.log_id == origin))
        conn.execute(delete(repo.NODE).where(repo.NODE.c.log_id == origin))
        writer = LogWriter(origin)
        for p in payloads:
            a = writer.append(p)
            conn.execute(repo.ENTRY.insert().values(log_id=origin, seq=a.seq, kind=a.entry.kind, data=a.data,
                                                    leaf_hash=a.leaf_hash, entry_hash=a.entry_hash))  # fmt: skip
            for n in a.nodes:
                conn.execute(repo.NODE.insert().values(log_id=origin, level=n.level, idx=n.index, hash=n.hash))
        import json

        conn.execute(update(repo.STATE).where(repo.STATE.c.log_id == origin).values(
            size=writer.size, state=json.dumps(writer.state().to_dict())))  # fmt: skip
    w.ledger.appender.forget()
    return writer.size, writer.root()


def publish_forged(w: World, camera: str, note: str) -> None:
    """Put a checkpoint note where the archive keeps them (numbered, latest pointer, catalog)."""
    cp = Checkpoint.parse(note[: note.rfind("\n\n") + 1])
    store = w.env.store
    put = store.put_bytes(w.env.logs, checkpoint_key(cp.origin, cp.size), note.encode())
    store.put_bytes(w.env.logs, latest_checkpoint_key(cp.origin), note.encode())
    with w.env.engine.begin() as conn:
        conn.execute(delete(repo.CHECKPOINT).where(
            (repo.CHECKPOINT.c.log_id == cp.origin) & (repo.CHECKPOINT.c.size == cp.size)))  # fmt: skip
        repo.insert_checkpoint(conn, repo.CheckpointRecord(cp.origin, cp.size, cp.root.hex(), note, 0, put.key,
                                                           put.version_id, None, None))  # fmt: skip


def crc32c(data: bytes) -> int:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    c = 0xFFFFFFFF
    for x in data:
        c = table[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def flip_on_disk(seaweed_dir: Path, bucket: str, body: bytes, offset: int, *, fix_crc: bool) -> None:
    """Flip one bit of ``body`` inside the bucket's SeaweedFS volume file (same object version, no
    S3 call); with ``fix_crc`` also rewrite the needle's CRC32-C so the store serves it silently."""
    for dat in seaweed_dir.rglob(f"{bucket}_*.dat"):
        raw = bytearray(dat.read_bytes())
        at = raw.find(body[-256:])  # the world's own null packet makes the tail unique
        start = at - (len(body) - 256)
        if at < 0 or raw[start : start + len(body)] != body:
            continue
        flipped = bytearray(body)
        flipped[offset] ^= 0x01
        raw[start : start + len(body)] = flipped
        if fix_crc:
            end = start + len(body)
            at = raw.find(struct.pack(">I", crc32c(body)), end, end + 512)
            assert at >= 0, "needle checksum not found"
            raw[at : at + 4] = struct.pack(">I", crc32c(bytes(flipped)))
        dat.write_bytes(bytes(raw))
        return
    raise AssertionError("segment bytes not found in any volume file")


# -- baseline ---------------------------------------------------------------------------------


def test_untouched_world_verifies(world: World) -> None:
    for cam in (A, B):
        report = world.verify(cam)
        assert report.ok, report.lines()
        assert world.verify_log(cam).ok
    report = world.verify(A)
    assert (report.entries_checked, report.segments_checked, report.checkpoint_size) == (10, 8, 10)
    window = world.verify(A, time_from=T0 + 3 * CLIP, time_to=T0 + 6 * CLIP)
    assert window.ok and window.segments_checked == 2, window.lines()


# -- media ------------------------------------------------------------------------------------


def test_flip_byte_in_place_same_version(world: World, seaweed) -> None:
    where = world.where(A, 2)
    flip_on_disk(seaweed.data_dir, world.env.media, world.bodies[(A, 2)], 50_000, fix_crc=True)
    served = world.env.store.get_bytes(world.env.media, str(world.row(A, 2)["object_key"]),
                                       str(world.row(A, 2)["version_id"]))  # fmt: skip
    assert served != world.bodies[(A, 2)]  # the store serves the altered bytes under the same version id
    detected(world.verify(), "SHA-256 is", "the entry says", seq=2, obj=where)
    detected(world.verify(time_from=T0 + 2 * CLIP, time_to=T0 + 3 * CLIP), "SHA-256 is", seq=2, obj=where)


def test_flip_byte_in_place_corrupt_needle(world: World, seaweed, tmp_path: Path) -> None:
    flip_on_disk(seaweed.data_dir, world.env.media, world.bodies[(A, 6)], 1_000, fix_crc=False)
    creds = seaweed.credentials
    fast = S3Store(seaweed.endpoint, creds.access_key, creds.secret_key, secure=False, read_timeout=2.0)
    ledger = make_ledger(world.env.engine, fast, world.env.key_file, world.env.media, world.env.logs, world.env.tag)
    detected(verify_camera(ledger, A), "cannot be read", seq=6, obj=world.where(A, 6))


def test_flip_byte_as_new_version(world: World) -> None:
    body = bytearray(world.bodies[(A, 1)])
    body[777] ^= 0xFF
    key = str(world.row(A, 1)["object_key"])
    new = world.env.store.put_bytes(world.env.media, key, bytes(body))
    where = f"{world.env.media}/{key}?versionId={new.version_id}"
    detected(world.verify(), "another version of a logged object", obj=where)


def test_a_second_identical_copy_is_noted_not_failed(world: World) -> None:
    """A store that finishes an upload the recorder had given up on (timed out, retried) leaves a
    second version with the logged bytes: a note, not a failure; the log's version is the evidence.
    (Failed on the old code: "another version of a logged object".) Other bytes still fail (above)."""
    key = str(world.row(A, 2)["object_key"])
    copy = world.env.store.put_bytes(world.env.media, key, world.bodies[(A, 2)])
    where = f"{world.env.media}/{key}?versionId={copy.version_id}"
    report = world.verify()
    assert report.ok, report.failures
    assert any(where in n and "second stored copy of seq 2 with the logged bytes" in n for n in report.notes), report


def test_truncate_segment(world: World) -> None:
    where = world.where(A, 3)
    short = world.bodies[(A, 3)][:40_000]
    new_version = world.replace_object(A, 3, short)
    world.sql("UPDATE segment SET version_id = :v, size = :n, sha256 = :h WHERE camera_id = :c AND seq = 3",
              v=new_version, n=len(short), h=hashlib.sha256(short).hexdigest(), c=A)
    report = world.verify()
    detected(report, "object version is missing", seq=3, obj=where)
    detected(report, "catalog row differs from the log", "size is 40000 in the catalog", seq=3)
    detected(report, "overwritten or replaced")


def test_delete_segment(world: World) -> None:
    where = world.where(A, 5)
    r = world.row(A, 5)
    world.env.store.delete_version(world.env.media, str(r["object_key"]), str(r["version_id"]), bypass_governance=True)
    detected(world.verify(), "object version is missing from the store", seq=5, obj=where)


def test_swap_two_segment_objects(world: World) -> None:
    w1, w2 = world.where(A, 1), world.where(A, 2)
    v1 = world.replace_object(A, 1, world.bodies[(A, 2)])
    v2 = world.replace_object(A, 2, world.bodies[(A, 1)])
    world.sql("UPDATE segment SET version_id = :v WHERE camera_id = :c AND seq = 1", v=v1, c=A)
    world.sql("UPDATE segment SET version_id = :v WHERE camera_id = :c AND seq = 2", v=v2, c=A)
    report = world.verify()
    detected(report, "object version is missing", seq=1, obj=w1)
    detected(report, "object version is missing", seq=2, obj=w2)
    detected(report, "version_id is", seq=1)


def test_swap_two_entries_in_catalog(world: World) -> None:
    origin = world.ledger.log_id(A)
    with world.env.engine.begin() as conn:
        one, two = (next(repo.iter_entries(conn, origin, s, s + 1)) for s in (1, 2))
        for seq, rec in ((1, two), (2, one)):
            conn.execute(update(repo.ENTRY).where((repo.ENTRY.c.log_id == origin) & (repo.ENTRY.c.seq == seq))
                         .values(data=rec.data, leaf_hash=rec.leaf_hash, entry_hash=rec.entry_hash))  # fmt: skip
    report = world.verify()
    detected(report, "entry says seq 2, expected 1", seq=1)
    detected(report, "give root", "the signed checkpoint says")
    detected(world.verify_log(), "catalog entry differs from the published", seq=1)


def test_insert_foreign_object(world: World) -> None:
    key = world.ledger.settings.media_prefix(A) + "2025/03/14/000000000004.ts"
    put = world.env.store.put_bytes(world.env.media, key, b"\x47" * 188 * 500)
    where = f"{world.env.media}/{put.key}?versionId={put.version_id}"
    fresh = world.verify()  # a young unlogged object may be an upload in flight: a note, not yet a failure
    assert fresh.ok and any("not logged yet (in flight?)" in n for n in fresh.notes), fresh.lines()
    later = datetime.now(UTC) + timedelta(minutes=10)
    detected(world.verify(now=later), "foreign object", obj=where)


def test_insert_foreign_segment_into_log(world: World) -> None:
    facts, _ = store_segment(world.env, A, 4, data=b"\x47" * 188 * 600, start=T0 + 4 * CLIP)
    foreign = facts.payload(A)

    def insert(ps: list[Payload]) -> list[Payload]:
        return [*ps[:4], foreign, *ps[4:]]

    size, _ = forge_history(world, A, insert)
    assert size == 11
    report = world.verify()
    detected(report, "entries 0..9 give root", "the signed checkpoint says")
    detected(report, "catalog segment row has no segment entry at this seq", seq=5)
    log_report = world.verify_log()
    detected(log_report, "catalog entry differs from the published (COMPLIANCE-locked) batch", seq=4)
    detected(log_report, "the catalog's entries 0..7 give root")
    with pytest.raises(IntegrityError, match="does not extend"):
        world.ledger.checkpoint(A)


def test_replay_entry_from_another_camera(world: World) -> None:
    origin_b = world.ledger.log_id(B)
    with world.env.engine.begin() as conn:
        rec = next(repo.iter_entries(conn, origin_b, 1, 2))
        conn.execute(update(repo.ENTRY).where((repo.ENTRY.c.log_id == world.ledger.log_id(A)) & (repo.ENTRY.c.seq == 1))
                     .values(data=rec.data, leaf_hash=rec.leaf_hash, entry_hash=rec.entry_hash))  # fmt: skip
    report = world.verify()
    detected(report, f"entry belongs to log '{origin_b}'", seq=1)


def test_replay_segment_from_another_camera_rechained(world: World) -> None:
    with world.env.engine.connect() as conn:
        b1 = Entry.decode(next(repo.iter_entries(conn, world.ledger.log_id(B), 1, 2)).data).payload
    assert isinstance(b1, Segment)

    def swap_in(ps: list[Payload]) -> list[Payload]:
        return [*ps[:6], replace(b1, start=T0 + 6 * CLIP, end=T0 + 7 * CLIP), *ps[7:]]

    forge_history(world, A, swap_in)
    report = world.verify()
    detected(report, "entry names camera 'cam-b', not 'cam-a' (replayed from another camera?)", seq=6)
    detected(report, "give root")
    detected(report, "catalog row differs from the log", seq=6)


def test_replay_media_of_another_camera(world: World) -> None:
    where = world.where(A, 7)
    body = world.bodies[(B, 0)]
    v = world.replace_object(A, 7, body)
    world.sql("UPDATE segment SET version_id = :v, sha256 = :h, size = :n WHERE camera_id = :c AND seq = 7",
              v=v, h=hashlib.sha256(body).hexdigest(), n=len(body), c=A)
    report = world.verify()
    detected(report, "object version is missing", seq=7, obj=where)
    detected(report, "sha256 is", seq=7)


# -- log entries in the catalog ---------------------------------------------------------------


def _rewrite_entry(world: World, camera: str, seq: int, change: Callable[[Payload], Payload]) -> None:
    origin = world.ledger.log_id(camera)
    with world.env.engine.begin() as conn:
        e = Entry.decode(next(repo.iter_entries(conn, origin, seq, seq + 1)).data)
        data = Entry(e.log, e.seq, e.prev, change(e.payload)).encode()
        where = (repo.ENTRY.c.log_id == origin) & (repo.ENTRY.c.seq == seq)
        leaf, ehash = hashlib.sha256(b"\x00" + data).digest(), hashlib.sha256(data).digest()
        conn.execute(update(repo.ENTRY).where(where).values(data=data, leaf_hash=leaf, entry_hash=ehash))


def test_edit_entry(world: World) -> None:
    _rewrite_entry(world, A, 3, lambda p: replace(p, end=p.end + timedelta(seconds=5)))  # type: ignore[type-var]
    report = world.verify()
    detected(report, "prev is", "was changed", seq=4)
    detected(report, "entries 0..9 give root")
    detected(report, "stored Merkle node", seq=2)
    detected(report, "catalog row differs from the log", "end is 2025-03-14T09:00:08.000000Z in the catalog", seq=3)
    window = world.verify(time_from=T0 + 2 * CLIP, time_to=T0 + 5 * CLIP)
    detected(window, "entries 2..4 do not rebuild the signed root of size 10")
    detected(world.verify_log(), "catalog entry differs from the published", seq=3)


def test_edit_entry_and_recompute_everything(world: World) -> None:
    def later(ps: list[Payload]) -> list[Payload]:
        return [replace(p, start=p.start + CLIP, end=p.end + CLIP) if i == 9 else p  # type: ignore[type-var]
                for i, p in enumerate(ps)]  # fmt: skip

    forge_history(world, A, later)
    report = world.verify()
    detected(report, "entries 0..9 give root")
    detected(report, "catalog row differs from the log", seq=9)
    log_report = world.verify_log()
    detected(log_report, "catalog entry differs from the published", seq=9)
    detected(log_report, "checkpoint of size 8 and checkpoint of size 10 are not consistent")
    with pytest.raises(IntegrityError):
        world.ledger.checkpoint(A)


def test_edit_catalog_row_only(world: World) -> None:
    world.sql("UPDATE segment SET start_us = start_us + 1000000 WHERE camera_id = :c AND seq = 2", c=A)
    detected(world.verify(), "catalog row differs from the log", "start is", seq=2)


def test_delete_entry(world: World) -> None:
    world.sql("DELETE FROM log_entry WHERE log_id = :l AND seq = 3", l=world.ledger.log_id(A))
    report = world.verify()
    detected(report, "entries 3..3 are missing from the catalog", seq=3)
    detected(world.verify_log(), "missing from the catalog", seq=3)


def test_delete_last_entries_and_fix_state(world: World) -> None:
    size, _ = forge_history(world, A, lambda ps: ps[:8])
    world.sql("DELETE FROM segment WHERE camera_id = :c AND seq >= 8", c=A)
    assert size == 8
    report = world.verify()
    detected(report, "the catalog holds 8 entries, the signed checkpoint covers 10")
    detected(world.verify_log(), "checkpoint of size 10 was signed, but the catalog's entries stop at 8")
    with pytest.raises(IntegrityError, match="size 10 was signed"):
        world.ledger.checkpoint(A)


def test_roll_back_catalog_from_backup(world: World, tmp_path: Path) -> None:
    db = tmp_path / "catalog.sqlite3"
    backup = tmp_path / "backup.sqlite3"
    src, dst = sqlite3.connect(db), sqlite3.connect(backup)
    src.backup(dst)  # taken at A size 10
    src.close()
    dst.close()
    _segment(world, A, 10, world.bodies[(A, 0)][:100_000] + b"x" * 100, slot=9)
    assert world.ledger.checkpoint(A).size == 11  # type: ignore[union-attr]
    world.env.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, db)
    restarted = world.env.reopen()
    world.env.ledger = restarted
    report = world.verify(now=datetime.now(UTC) + timedelta(minutes=10))
    detected(report, "latest signed checkpoint is size 11 in the log bucket, but size 10 in the catalog")
    detected(report, "the catalog holds 10 entries, the signed checkpoint covers 11")
    detected(report, "not in the log (foreign object)")  # the media of seq 10 is no longer logged
    detected(world.verify_log(), "checkpoint of size 11 was signed, but the catalog's entries stop at 10")
    with pytest.raises(IntegrityError, match="refusing to sign"):
        restarted.checkpoint(A)


# -- checkpoints and keys ---------------------------------------------------------------------


def test_forge_checkpoint_with_another_key(world: World) -> None:
    size, root = forge_history(world, A, lambda ps: ps[:-1])
    origin = world.ledger.log_id(A)
    attacker = Signer.generate(origin)
    note = sign_note(Checkpoint(origin, size, root).text(), [attacker]).encode()
    publish_forged(world, A, note)
    report = world.verify()
    detected(report, "latest checkpoint in the log bucket is not valid", "no signature by a trusted key")
    detected(world.verify_log(), "stored checkpoint is not valid", "no signature by a trusted key")
    # even with the attacker's key planted in the catalog, the published key list exposes it
    published = world.ledger.keys.active().public
    with world.env.engine.begin() as conn:
        conn.execute(repo.SIGNING_KEY.insert().values(
            name=world.ledger.keys.name, key_id="deadbeef", verifier_key=Signer(world.ledger.keys.name,
            attacker.private_key).verifier_key.encode(), private_enc="v1:x", created_us=0, retired_us=None,
            active=False))  # fmt: skip
    detected(verify_camera(world.ledger, A, trusted=[published]), "no signature by a trusted key")


def test_sign_with_rotated_out_key(world: World) -> None:
    old_key = world.ledger.keys.active()
    old_signer = world.ledger.keys.signer(old_key.key_id)
    world.ledger.rotate_keys()  # key entries in A and B, checkpoints signed by both keys
    _segment(world, A, 11, world.bodies[(A, 1)][:120_000], slot=9)
    origin = world.ledger.log_id(A)
    with world.env.engine.connect() as conn:
        st = repo.load_state(conn, origin)
    assert st is not None
    root = CompactRange(st.size, st.state.edge).root()
    note = sign_note(Checkpoint(origin, st.size, root).text(), [Signer(origin, old_signer.private_key)]).encode()
    publish_forged(world, A, note)
    report = world.verify()
    detected(report, "latest checkpoint in the log bucket is not valid",
             "the key introduced by the key entry at seq 10", "rotated-out key")
    detected(world.verify_log(), "stored checkpoint is not valid", "rotated-out key")


def test_new_log_signed_with_retired_key(world: World) -> None:
    old_key = world.ledger.keys.active()
    old_signer = world.ledger.keys.signer(old_key.key_id)
    world.ledger.rotate_keys()
    time.sleep(1.1)  # S3 Last-Modified has 1 s resolution: be clearly after the retirement
    _segment(world, "cam-c", 0, b"\x47" * 188 * 400)  # a log that only ever knew the new key
    origin = world.ledger.log_id("cam-c")
    with world.env.engine.connect() as conn:
        st = repo.load_state(conn, origin)
    assert st is not None
    note = sign_note(Checkpoint(origin, st.size, CompactRange(st.size, st.state.edge).root()).text(),
                     [Signer(origin, old_signer.private_key)]).encode()  # fmt: skip
    world.env.store.put_bytes(world.env.logs, latest_checkpoint_key(origin), note.encode())
    world.env.store.put_bytes(world.env.logs, checkpoint_key(origin, st.size), note.encode())
    detected(world.verify("cam-c"), "is signed only by", "retired at")


def test_latest_pointer_moved_back(world: World) -> None:
    origin = world.ledger.log_id(A)
    old = world.ledger.signer.at(A, 8, cosigned=False)
    assert old is not None
    world.env.store.put_bytes(world.env.logs, latest_checkpoint_key(origin), old.note.encode())
    detected(world.verify(), "latest signed checkpoint is size 10 in the catalog, but size 8 in the log bucket")
    detected(world.verify_log(), "latest checkpoint pointer names size 8, the largest stored checkpoint is 10")
    assert origin

