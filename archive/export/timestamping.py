"""The archive's RFC 3161 client: a time-stamp token over each exported camera checkpoint (EXPORT-SPEC.md 7.6).

:meth:`TimestampClient.stamp` posts one ``TimeStampReq`` (RFC 3161 3.4: HTTP POST,
``application/timestamp-query``) for the SHA-256 of the given bytes with a fresh nonce, and
returns the DER ``TimeStampResp`` only after checking that it answers this request (imprint,
nonce), that its signature verifies and, when ``[export] timestamp_ca_file`` is set, that the
TSA is one the operator trusts. Standard library HTTP (``urllib``); one request per call. The
TSA sees a hash of a checkpoint's text, nothing else.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from archive.errors import ConfigError, TimestampAuthorityError
from archive.integrity import IntegrityError
from archive.integrity.timestamp import (
    TimestampToken,
    TsaCertificate,
    check_timestamp,
    load_certificates,
    read_timestamp_response,
    timestamp_request,
)

__all__ = ["TimestampClient", "timestamp_client"]

_MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class TimestampClient:
    """One TSA: its URL and the certificates its tokens must chain to (None: checked inside only)."""

    url: str
    trusted: tuple[TsaCertificate, ...] | None = None
    timeout_s: float = 10.0

    def stamp(self, data: bytes) -> tuple[bytes, TimestampToken]:
        """A checked ``TimeStampResp`` (DER) over ``data``, and what it says.

        Raises:
            TimestampAuthorityError: no answer, an HTTP error, a refusal, or a token that does not
                check (another imprint or nonce, a bad signature, a TSA that is not trusted).
        """
        nonce = secrets.randbits(63)
        query = timestamp_request(hashlib.sha256(data).digest(), nonce)
        headers = {"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"}
        # http(s) only: timestamp_client checked the scheme
        req = urllib.request.Request(self.url, data=query, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310
                body = resp.read(_MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            raise TimestampAuthorityError(f"time-stamping authority {self.url} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TimestampAuthorityError(f"time-stamping authority {self.url} unreachable: {reason}") from exc
        if len(body) > _MAX_ANSWER:
            raise TimestampAuthorityError(f"time-stamping authority {self.url}: answer larger than {_MAX_ANSWER} bytes")
        try:
            token = read_timestamp_response(body)
            check_timestamp(token, data, list(self.trusted) if self.trusted is not None else None, nonce=nonce)
        except IntegrityError as exc:
            raise TimestampAuthorityError(f"time-stamping authority {self.url}: {exc}") from exc
        return body, token


def timestamp_client(url: str, ca_file: Path | None, timeout_s: float) -> TimestampClient | None:
    """The client of ``[export] timestamp_url`` (None when it is empty).

    Raises:
        ConfigError: a URL that is not http(s), or a CA file that cannot be read or holds no certificate.
    """
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"export.timestamp_url must be an http:// or https:// URL, got {url!r}")
    trusted = None
    if ca_file is not None:
        try:
            trusted = tuple(load_certificates(ca_file.read_bytes()))
        except OSError as exc:
            raise ConfigError(f"export.timestamp_ca_file {ca_file}: {exc.strerror or exc}") from exc
        except IntegrityError as exc:
            raise ConfigError(f"export.timestamp_ca_file {ca_file}: {exc}") from exc
    return TimestampClient(url, trusted, timeout_s)
