"""The pages' languages: Bahasa Indonesia (default) and English, chosen per user.

:data:`CATALOG` maps a message key to its text in each language; templates call ``t("key")``.
A key missing from the catalog is an error (never an empty label). So far the catalog covers the
page frame (top bar, page titles, the language switch, the cameras list and timeline headings);
other texts are English in both languages. The choice is kept per user id by
:class:`LanguageChoices` in the catalog (``api_user.language``, through the identity service):
it survives a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["CATALOG", "DEFAULT", "LANGUAGES", "LanguageChoices", "LanguageStore", "translator"]

LANGUAGES = ("id", "en")
DEFAULT = "id"
CATALOG: dict[str, dict[str, str]] = {
    "nav.map": {"id": "Peta", "en": "Map"},
    "nav.cameras": {"id": "Kamera", "en": "Cameras"},
    "nav.exports": {"id": "Ekspor", "en": "Exports"},
    "nav.holds": {"id": "Penahanan", "en": "Holds"},
    "nav.verify": {"id": "Verifikasi", "en": "Verify"},
    "nav.audit": {"id": "Audit", "en": "Audit"},
    "logout": {"id": "Keluar", "en": "Log out"},
    "language": {"id": "Bahasa", "en": "Language"},
    "language.switch": {"id": "Ganti", "en": "Switch"},
    "title.cameras": {"id": "Kamera", "en": "Cameras"},
    "title.map": {"id": "Peta", "en": "Map"},
    "title.exports": {"id": "Ekspor", "en": "Exports"},
    "title.holds": {"id": "Penahanan hukum", "en": "Legal holds"},
    "title.audit": {"id": "Jejak audit", "en": "Audit trail"},
    "title.verify": {"id": "Verifikasi paket", "en": "Verify a package"},
    "title.export_new": {"id": "Ajukan ekspor barang bukti", "en": "Request an evidence export"},
    "cameras.search": {"id": "Cari", "en": "Search"},
    "cameras.camera": {"id": "Kamera", "en": "Camera"},
    "cameras.owner": {"id": "Pemilik", "en": "Owner"},
    "cameras.location": {"id": "Lokasi", "en": "Location"},
    "cameras.status": {"id": "Status", "en": "Status"},
    "lane.recorded": {"id": "terekam", "en": "recorded"},
    "lane.gap": {"id": "celah", "en": "gap"},
    "lane.unaccounted": {"id": "tak tercatat", "en": "unaccounted"},
    "lane.held": {"id": "ditahan", "en": "held"},
}
"""key -> {language: text}; every key has every language (tests/unit/web/test_i18n.py)."""


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)``: the text of ``key`` in ``lang`` (the default language for an unknown ``lang``).
    ``t`` raises KeyError for a key the catalog lacks."""
    chosen = lang if lang in LANGUAGES else DEFAULT

    def t(key: str) -> str:
        return CATALOG[key][chosen]

    return t


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
