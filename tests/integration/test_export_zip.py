"""The package zip writer: members with precomputed CRC/SHA-256 and streamed ones, read back by
Python's zipfile (CRCs checked), Info-ZIP ``unzip -t`` and the verifier's reader; the ZIP64
records (forced with low limits, as for packages over 2 GiB or 65535 files); a short member
and an abort leave nothing behind."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from archive.export import zipout
from archive.export.verifier.source import hash_member, open_package
from archive.export.zipout import PackageWriter
from archive.integrity import IntegrityError


def _write(path: Path) -> dict[str, bytes]:
    big = os.urandom(3 << 20)
    small = b"entries\n" * 100
    local = path.parent / "local.bin"
    local.write_bytes(os.urandom(1 << 20) + b"tail")
    w = PackageWriter(path, "CASE_1_abc", writeback_bytes=1 << 20)
    chunks = [big[i : i + (1 << 20)] for i in range(0, len(big), 1 << 20)]
    ticks: list[int] = []
    rec = w.add_verified("cameras/c/segments/000000000001_a.ts", chunks, "segment",
                         sha256=hashlib.sha256(big).hexdigest(), crc32=zlib.crc32(big), size=len(big),
                         tick=ticks.append)  # fmt: skip
    assert rec.size == len(big) and sum(ticks) == len(big)
    w.add_bytes("cameras/c/entries.jsonl", small, "entries")
    w.add_file("verify_package.py", local, "verifier", executable=True)
    w.add_bytes("empty.txt", b"", "x")
    sha, size = w.finish()
    assert not path.with_name(path.name + ".part").exists()
    assert size == path.stat().st_size and sha == hashlib.sha256(path.read_bytes()).hexdigest()
    for r in w.records:
        assert r.sha256 == hashlib.sha256({"cameras/c/segments/000000000001_a.ts": big,
                                           "cameras/c/entries.jsonl": small, "verify_package.py": local.read_bytes(),
                                           "empty.txt": b""}[r.path]).hexdigest()  # fmt: skip
    return {"cameras/c/segments/000000000001_a.ts": big, "cameras/c/entries.jsonl": small,
            "verify_package.py": local.read_bytes(), "empty.txt": b""}  # fmt: skip


def _read_back(path: Path, want: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None  # every CRC-32 checked
        assert sorted(z.namelist()) == sorted(f"CASE_1_abc/{n}" for n in want)
        for name, data in want.items():
            info = z.getinfo(f"CASE_1_abc/{name}")
            assert info.compress_type == zipfile.ZIP_STORED and z.read(info) == data
            assert (info.external_attr >> 16) & 0o777 == (0o755 if name.endswith(".py") else 0o644)
    src = open_package(path)
    try:
        for name, data in want.items():
            assert hash_member(src, name) == (hashlib.sha256(data).hexdigest(), len(data))
    finally:
        src.close()
    if shutil.which("unzip"):
        out = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, check=False)
        assert out.returncode == 0 and "No errors detected" in out.stdout, out.stdout + out.stderr


def test_members_read_back_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    _read_back(path, _write(path))


def test_zip64_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipout, "ZIP64_LIMIT", 1000)
    monkeypatch.setattr(zipout, "FILECOUNT_LIMIT", 2)
    path = tmp_path / "p.zip"
    want = _write(path)
    data = path.read_bytes()
    assert b"PK\x06\x06" in data[-200:] and b"PK\x06\x07" in data[-200:]  # ZIP64 end record and locator
    _read_back(path, want)


def test_short_member_and_abort_leave_nothing(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    w = PackageWriter(path, "root")
    with pytest.raises(IntegrityError, match="announced"):
        w.add_verified("a", [b"abc"], "segment", sha256="0" * 64, crc32=0, size=4)
    w.abort()
    w.abort()
    assert list(tmp_path.iterdir()) == []
