"""The pages' languages: Bahasa Indonesia (default) and English, chosen per user.

:data:`CATALOG` maps a message key to its text in each language (the messages are in
:mod:`.catalog`); templates call ``t("key", name=value)``, the web layer's handlers
:func:`translator`, our ES modules ``static/i18n.js`` over :func:`browser_messages` (sent on
``<body data-i18n>``). A key missing from the catalog is an error (never an empty label); every
page's text goes through it (tests/unit/web/test_i18n.py checks the templates and keys,
tests/e2e/test_web_walk.py every page rendered in each language). The choice is kept per user id by
:class:`LanguageChoices` in the catalog (``api_user.language``, through the identity service):
it survives a restart.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

from .catalog import MESSAGES

__all__ = ["BROWSER_PREFIXES", "CATALOG", "DEFAULT", "LANGUAGES", "LanguageChoices", "LanguageStore", "Translate",
           "browser_messages", "translator"]

LANGUAGES = ("id", "en")
DEFAULT = "id"
CATALOG: dict[str, dict[str, str]] = {key: dict(zip(LANGUAGES, texts, strict=True)) for key, texts in MESSAGES.items()}
"""key -> {language: text}; every key has every language (tests/unit/web/test_i18n.py)."""


BROWSER_PREFIXES = ("js.", "status.", "reason.", "export.status.")
"""The keys our ES modules use: sent to the browser with every page."""


class Translate(Protocol):
    """``t(key, **values)``: the text of ``key`` with ``{name}`` filled from ``values``."""

    def __call__(self, key: str, /, **values: Any) -> str: ...


def translator(lang: str) -> Translate:
    """``t(key, **values)``: the text of ``key`` in ``lang`` (the default language for an unknown
    ``lang``), ``{name}`` filled from ``values``. ``t`` raises KeyError for a key the catalog
    lacks or a ``{name}`` not given."""
    chosen = lang if lang in LANGUAGES else DEFAULT

    def t(key: str, /, **values: Any) -> str:
        text = CATALOG[key][chosen]
        return text.format(**values) if values else text

    return t


def browser_messages(lang: str) -> str:
    """The messages of :data:`BROWSER_PREFIXES` in ``lang`` as JSON ``{key: text}``."""
    chosen = lang if lang in LANGUAGES else DEFAULT
    return json.dumps({k: v[chosen] for k, v in CATALOG.items() if k.startswith(BROWSER_PREFIXES)},
                      ensure_ascii=False, separators=(",", ":"))


class LanguageStore(Protocol):
    """Where the choices are kept: the identity service (``api_user.language``)."""

    def language(self, user_id: str) -> str | None: ...

    def set_language(self, user_id: str, language: str | None) -> None: ...


class LanguageChoices:
    """Each user's chosen language (thread-safe); users who chose none get :data:`DEFAULT`.

    With a ``store`` (the pages use the identity service) a choice is written to the catalog and
    :meth:`load` (called at login, off the event loop) reads it back: it survives a restart. This
    process answers :meth:`of` from memory (filled by :meth:`load` and :meth:`choose`), so a page
    request costs no query. Without a store: memory only."""

    def __init__(self, store: LanguageStore | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._chosen: dict[str, str] = {}

    def of(self, user_id: str | None) -> str:
        """The language of ``user_id`` (the default for None or a user who chose none)."""
        with self._lock:
            return self._chosen.get(user_id or "", DEFAULT)

    def load(self, user_id: str) -> str:
        """Read ``user_id``'s stored choice into memory (blocking: a catalog query); the language.
        Raises what the store raises (NotFoundError, CatalogError)."""
        stored = self._store.language(user_id) if self._store is not None else None
        with self._lock:
            if stored in LANGUAGES:
                self._chosen[user_id] = str(stored)
            return self._chosen.get(user_id, DEFAULT)

    def choose(self, user_id: str, lang: str) -> None:
        """Remember ``lang`` for ``user_id`` (in the store first). Raises ValueError for a language
        not in :data:`LANGUAGES`, and what the store raises."""
        if lang not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        if self._store is not None:
            self._store.set_language(user_id, lang)
        with self._lock:
            self._chosen[user_id] = lang
