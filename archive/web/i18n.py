"""The pages' languages: Bahasa Indonesia (default) and English, chosen per user.

:data:`CATALOG` maps a message key to its text in each language; templates call ``t("key")``.
A key missing from the catalog is an error (never an empty label). So far the catalog covers the
page frame (top bar, page titles, the language switch, the cameras list and timeline headings);
other texts are English in both languages. The choice is kept per user id by
:class:`LanguageChoices` for the life of the process (not persisted: after a restart every user
starts in Bahasa Indonesia again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["CATALOG", "DEFAULT", "LANGUAGES", "LanguageChoices", "translator"]

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


class LanguageChoices:
    """Each user's chosen language, in memory (thread-safe); users who chose none get :data:`DEFAULT`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chosen: dict[str, str] = {}

    def of(self, user_id: str | None) -> str:
        """The language of ``user_id`` (the default for None or a user who chose none)."""
        with self._lock:
            return self._chosen.get(user_id or "", DEFAULT)

    def choose(self, user_id: str, lang: str) -> None:
        """Remember ``lang`` for ``user_id``. Raises ValueError for a language not in :data:`LANGUAGES`."""
        if lang not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        with self._lock:
            self._chosen[user_id] = lang
