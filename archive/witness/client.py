"""The archive's side of c2sp.org/tlog-witness: submit a checkpoint, get the witness's cosignature.

:meth:`WitnessClient.add_checkpoint` posts one request and returns the cosignature lines made by
the configured witness key that verify over the checkpoint (lines by other keys are ignored, as
the protocol asks). Standard library HTTP (``urllib``), one request per call.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from archive.errors import WitnessError, WitnessSizeError
from archive.integrity import (
    ALG_COSIGNATURE_V1,
    IntegrityError,
    NoteSignature,
    SignedNote,
    VerifierKey,
    verify_cosignatures,
)

from .protocol import AddCheckpoint, parse_size

__all__ = ["WitnessClient"]

_MAX_ANSWER = 64 * 1024


def _message(body: bytes) -> str:
    try:
        doc = json.loads(body)
        return str(doc["error"])[:300] if isinstance(doc, dict) and "error" in doc else body[:300].decode("replace")
    except ValueError:
        return body[:300].decode("utf-8", "replace")


@dataclass(frozen=True)
class WitnessClient:
    """One witness: its URL (submission prefix) and its verifier key (type 0x04)."""

    url: str
    key: VerifierKey
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.key.alg != ALG_COSIGNATURE_V1:
            raise WitnessError(f"witness key {self.key.name}: not a cosignature/v1 (type 0x04) key")

    @property
    def label(self) -> str:
        """``name+keyid`` of the witness key."""
        return f"{self.key.name}+{self.key.key_id.hex()}"

    def add_checkpoint(self, request: AddCheckpoint) -> list[str]:
        """Submit ``request``; return this witness's valid cosignature lines (without newline).

        Raises:
            WitnessSizeError: 409 with the size the witness holds.
            WitnessError: any other refusal (its status and message), no answer, or an answer
                with no valid cosignature by this witness's key.
        """
        if not self.url.startswith(("http://", "https://")):
            raise WitnessError(f"witness {self.label}: {self.url!r} is not an http(s) URL")
        req = urllib.request.Request(  # noqa: S310 - checked above: http(s) only
            self.url.rstrip("/") + "/add-checkpoint", data=request.encode(), method="POST",
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - http(s) URL from config
                body = resp.read(_MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            body = exc.read(_MAX_ANSWER)
            if exc.code == 409 and exc.headers.get("Content-Type", "").startswith("text/x.tlog.size"):
                try:
                    size = parse_size(body)
                except IntegrityError as bad:
                    raise WitnessError(f"witness {self.label}: unreadable 409 answer: {bad}", 409) from bad
                raise WitnessSizeError(f"witness {self.label} holds size {size}, not {request.old_size}", size) from exc
            raise WitnessError(f"witness {self.label} refused the checkpoint ({exc.code}): {_message(body)}",
                               exc.code) from exc  # fmt: skip
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise WitnessError(f"witness {self.label} at {self.url}: no answer ({exc})") from exc
        return self._lines(body, request.note)

    def _lines(self, body: bytes, note: bytes) -> list[str]:
        try:
            text = SignedNote.parse(note).text
            sigs = [NoteSignature.parse_line(line) for line in body.decode("utf-8").split("\n") if line]
            mine = [s for s in sigs if (s.name, s.key_id) == (self.key.name, self.key.key_id)]
            if mine and verify_cosignatures(SignedNote(text, tuple(mine)), [self.key]):
                return [s.line().rstrip("\n") for s in mine]
        except (IntegrityError, UnicodeDecodeError) as exc:
            raise WitnessError(f"witness {self.label}: its answer is not a valid cosignature: {exc}", 200) from exc
        raise WitnessError(f"witness {self.label}: the answer holds no cosignature by its key", 200)
