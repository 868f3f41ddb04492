"""The message catalog has every key in every language; choices are per user, default Bahasa Indonesia."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import archive.web
from archive.web.i18n import CATALOG, DEFAULT, LANGUAGES, LanguageChoices, translator

TEMPLATES = Path(archive.web.__file__).parent / "templates"


def test_every_key_has_every_language_and_every_used_key_exists() -> None:
    for key, texts in CATALOG.items():
        assert set(texts) == set(LANGUAGES) and all(texts.values()), key
    used = {m for p in TEMPLATES.glob("*.html") for m in re.findall(r"""t\(["']([a-z_.]+)["']\)""", p.read_text())}
    assert used and used <= set(CATALOG), used - set(CATALOG)
    assert translator("id")("nav.cameras") == "Kamera" and translator("en")("nav.cameras") == "Cameras"
    assert translator("xx")("logout") == CATALOG["logout"][DEFAULT]
    with pytest.raises(KeyError):
        translator("en")("no.such.key")


def test_choices_are_per_user_and_checked() -> None:
    choices = LanguageChoices()
    assert choices.of("u1") == "id" == choices.of(None)
    choices.choose("u1", "en")
    assert choices.of("u1") == "en" and choices.of("u2") == "id"
    with pytest.raises(ValueError, match="one of id, en"):
        choices.choose("u1", "fr")
