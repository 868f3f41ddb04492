"""Remove credentials from text before it is kept anywhere: the one scrub of the archive.

Every string that may have seen a camera URL passes :func:`scrub` at each boundary it crosses:
each ffmpeg log line as it is read, gap details, recorder status, the evidence log's gap entries,
API answers, export reports and application logs (:class:`ScrubFilter`). It removes

* the password of URL userinfo in any scheme (``rtsp://user:PASS@host/...`` becomes
  ``rtsp://user:***@host/...``): everything between the first ``:`` after ``scheme://`` and the
  *last* ``@`` before the next whitespace, so a password holding ``@ : / # ?``, percent escapes
  or any non-space unicode goes entirely, while host, port and path stay readable;
* the value of credential-like query parameters (``?password=``, ``passwd``, ``pwd``, ``pass``,
  ``secret``, ``token``, ``auth``, ``key``) and of an HTTP ``Authorization:`` header;
* every *known secret* verbatim and in its percent-encoded forms: the passwords the recorder
  was given (:func:`remember_secret`; :class:`archive.recorder.supervisor.Supervisor` registers
  each camera's), plus any passed to a call. This also catches a password printed outside URL
  shape (ffmpeg printing only the password, a password with spaces). Secrets shorter than
  :data:`MIN_SECRET_LEN` characters are not replaced outside URL shape: replacing every "1" of a
  text would destroy it, and such a password gives no protection anyway.

A username alone (``rtsp://user@host``) is not a secret and is kept. Pure functions, thread-safe.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import quote, quote_plus

REDACTED: Final = "***"
MIN_SECRET_LEN: Final = 4

# "scheme://" then the run up to the next whitespace; its userinfo ends at the run's last "@"
# (RFC 3986 3.2.1). Two URLs written without a space between lose the first one's host: safe.
_URL_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)(\S+)")
_QUERY_RE: Final = re.compile(
    r"([?&;](?:password|passwd|pwd|pass|secret|token|auth|key|api_key|access_token)=)[^&;#\s]*", re.IGNORECASE
)
_AUTH_HEADER_RE: Final = re.compile(r"((?:Proxy-)?Authorization:\s*(?:[A-Za-z]+\s+)?)\S+", re.IGNORECASE)


class _KnownSecrets:
    """The process's known secrets and one compiled pattern replacing all their forms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def add(self, secret: str) -> None:
        with self._lock:
            self._secrets = self._secrets | {secret}

    def discard(self, secret: str) -> None:
        with self._lock:
            self._secrets = self._secrets - {secret}

    @property
    def current(self) -> frozenset[str]:
        return self._secrets


_KNOWN: Final = _KnownSecrets()


def remember_secret(secret: str | None) -> None:
    """Scrub ``secret`` (and its percent-encoded forms) from every later :func:`scrub` in this process."""
    if secret:
        _KNOWN.add(secret)


def forget_secret(secret: str | None) -> None:
    """Undo :func:`remember_secret` (for tests and removed cameras)."""
    if secret:
        _KNOWN.discard(secret)


def _forms(secret: str) -> set[str]:
    """The spellings a secret can take in text: verbatim and percent-encoded (RFC 3986 2.1)."""
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), quote(secret, safe="!$&'()*+,;=:@")}


@functools.lru_cache(maxsize=64)
def _secret_pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LEN:
            forms |= _forms(secret)
    if not forms:
        return None
    # Longest first so a secret is never half-replaced by a shorter one it contains. A percent
    # escape may be printed in either case (%2f / %2F): every "%XX" matches both.
    alternatives = []
    for form in sorted(forms, key=lambda f: (-len(f), f)):
        escaped = re.escape(form)
        alternatives.append(re.sub(r"%([0-9A-F])([0-9A-F])", lambda m: f"%[{m[1]}{m[1].lower()}][{m[2]}{m[2].lower()}]",
                                   escaped))
    return re.compile("|".join(alternatives))


def _userinfo(match: re.Match[str]) -> str:
    scheme, rest = match[1], match[2]
    at = rest.rfind("@")
    if at < 0:
        return match[0]
    userinfo, host = rest[:at], rest[at + 1 :]
    user, colon, _password = userinfo.partition(":")
    if not colon:
        return match[0]  # a user name alone is not a secret
    return f"{scheme}{user}:{REDACTED}@{host}"


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URL passwords, credential query values, Authorization headers, the
    process's known secrets and ``secrets`` (see the module docstring). Never raises."""
    pattern = _secret_pattern(_KNOWN.current | frozenset(s for s in secrets if s))
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _URL_RE.sub(_userinfo, text)
    text = _QUERY_RE.sub(lambda m: m[1] + REDACTED, text)
    return _AUTH_HEADER_RE.sub(lambda m: m[1] + REDACTED, text)


def scrub_optional(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """:func:`scrub` that passes None through."""
    return None if text is None else scrub(text, secrets)


def contains_secret(text: str, secrets: Iterable[str] = ()) -> bool:
    """True when :func:`scrub` would change ``text``."""
    return scrub(text, secrets) != text


def scrub_tree(value: object, secrets: Iterable[str] = ()) -> object:
    """A copy of JSON-like data (dicts, lists, tuples, strings, scalars) with every string, key
    included, scrubbed. Other objects are returned as they are."""
    keep = tuple(secrets)
    if isinstance(value, str):
        return scrub(value, keep)
    if isinstance(value, Mapping):
        return {scrub(k, keep) if isinstance(k, str) else k: scrub_tree(v, keep) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_tree(v, keep) for v in value]
    return value


class ScrubFilter(logging.Filter):
    """Scrubs every record's message (arguments merged in) and its formatted exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg, record.args = scrub(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install_log_scrubber(logger: logging.Logger | None = None) -> ScrubFilter:
    """Put one :class:`ScrubFilter` on the ``archive`` logger and on every handler of the root
    logger (a logger's filter does not see records of its children; a handler's does). Returns
    it; installing twice adds nothing."""
    target = logger or logging.getLogger("archive")
    existing = next((f for f in target.filters if isinstance(f, ScrubFilter)), None)
    filt = existing or ScrubFilter()
    if existing is None:
        target.addFilter(filt)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(filt)
    return filt


__all__ = [
    "MIN_SECRET_LEN",
    "REDACTED",
    "ScrubFilter",
    "contains_secret",
    "forget_secret",
    "install_log_scrubber",
    "remember_secret",
    "scrub",
    "scrub_optional",
    "scrub_tree",
]
