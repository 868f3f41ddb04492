"""The witness's record of the latest checkpoint it cosigned per log, in one JSON file.

``{"logs": {"<origin>": {"root": "<hex>", "size": n}}, "v": 1}``. Every change replaces the file
atomically (temporary file, fsync, rename, fsync of the folder) before the cosignature is
answered, and a size is never lowered: :meth:`WitnessState.advance` refuses it. One process owns
the file at a time (an exclusive ``flock`` on ``<file>.lock``, held while the state is open).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from archive.errors import ConfigError, ConflictError

__all__ = ["LogHead", "WitnessState"]


@dataclass(frozen=True)
class LogHead:
    """The latest tree head a witness cosigned for one log."""

    size: int
    root: bytes


class WitnessState:
    """The state file, opened for one process (see the module docstring). Not thread-safe on
    its own: the service serialises check-and-advance under its lock."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the state.

        Raises:
            ConfigError: the file is unreadable or malformed, or another process holds it.
        """
        self._path = path
        self._heads: dict[str, LogHead] = {}
        self._mutex = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock: IO[bytes] | None = path.with_name(path.name + ".lock").open("ab")
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConfigError(f"{path}: another witness process holds this state file") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot open the witness state: {exc}") from exc
        try:
            self._heads = self._read()
        except ConfigError:
            self.close()
            raise

    def _read(self) -> dict[str, LogHead]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"{self._path}: the witness state does not read: {exc}") from exc
        try:
            if raw.get("v") != 1 or not isinstance(raw.get("logs"), dict):
                raise ValueError("expected {'v': 1, 'logs': {...}}")
            heads = {}
            for origin, head in raw["logs"].items():
                size, root = head["size"], bytes.fromhex(head["root"])
                if not isinstance(size, int) or size < 0 or len(root) != 32:
                    raise ValueError(f"log {origin}: bad size or root")
                heads[str(origin)] = LogHead(size, root)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{self._path}: the witness state is malformed: {exc}") from exc
        return heads

    def head(self, origin: str) -> LogHead | None:
        """The latest head cosigned for ``origin``, or None."""
        return self._heads.get(origin)

    def heads(self) -> dict[str, LogHead]:
        """Every log's head (a copy)."""
        return dict(self._heads)

    def advance(self, origin: str, head: LogHead) -> None:
        """Record ``head`` as the latest for ``origin`` and make it durable.

        Raises:
            ConflictError: ``head`` is smaller than the recorded one, or the same size with
                another root (the state is never rolled back).
            OSError: the file could not be written (the state in memory is unchanged).
        """
        with self._mutex:
            old = self._heads.get(origin)
            if old is not None and (head.size < old.size or (head.size == old.size and head.root != old.root)):
                raise ConflictError(f"log {origin}: the witness holds size {old.size}; refusing to go back")
            heads = {**self._heads, origin: head}
            self._write(heads)
            self._heads = heads

    def _write(self, heads: dict[str, LogHead]) -> None:
        doc = {"v": 1, "logs": {o: {"size": h.size, "root": h.root.hex()} for o, h in sorted(heads.items())}}
        data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        tmp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(self._path)
        dfd = os.open(self._path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def close(self) -> None:
        """Release the file lock (idempotent)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
