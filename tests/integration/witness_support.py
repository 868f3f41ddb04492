"""A real ``archive witness serve`` process for the witness tests (not a test module)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from archive.integrity import Signer
from archive.ledger.witness import witness_keygen


@dataclass
class WitnessProcess:
    """``archive witness serve`` over ``folder`` (key, config and state stay across restarts)."""

    folder: Path
    signer: Signer
    proc: subprocess.Popen[str] | None = None
    url: str = ""

    @property
    def config(self) -> Path:
        return self.folder / "witness.toml"

    @property
    def state(self) -> Path:
        return self.folder / "state.json"

    def start(self) -> WitnessProcess:
        argv = [sys.executable, "-m", "archive", "witness", "serve", "--witness-config", str(self.config),
                "--port", "0"]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")})
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m[1]
                return self
        self.stop()
        raise AssertionError(f"witness did not start: {''.join(seen)}")

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        assert self.proc is not None
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
        return code

    def post(self, body: bytes, path: str = "/add-checkpoint") -> tuple[int, str, bytes]:
        """``(status, content type, body)`` of one POST."""
        req = urllib.request.Request(self.url + path, data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def make_witness(folder: Path, log_prefix: str, log_keys: list[str], name: str = "police.example/witness",
                 signer: Signer | None = None) -> WitnessProcess:
    """Key file (``signer``'s, else a new key), config (the logs under ``log_prefix`` with
    ``log_keys``) in ``folder``; not started."""
    folder.mkdir(parents=True, exist_ok=True)
    signer = signer or witness_keygen(name)
    (folder / "witness.key").write_text(signer.encode() + "\n")
    keys = ", ".join(f'"{k}"' for k in log_keys)
    (folder / "witness.toml").write_text(
        f'[witness]\nkey_file = "witness.key"\nstate_file = "state.json"\nhost = "127.0.0.1"\nport = 0\n\n'
        f'[[log]]\norigin_prefix = "{log_prefix}"\nkeys = [{keys}]\n'
    )
    return WitnessProcess(folder, signer)
