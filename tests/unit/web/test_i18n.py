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


STATIC = TEMPLATES.parent / "static"
_JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
_TAG = re.compile(r"<[^>]*>", re.S)
_SHOWN_ATTRS = re.compile(r"""\b(placeholder|title|aria-label|alt|label)=(["'])(.*?)\2""", re.S)
_WORD = re.compile(r"[A-Za-z]{2,}")


def _leftover_text(source: str) -> list[str]:
    """Words a template shows that do not come from ``t(...)`` or data: its literal text between
    tags and in the shown attributes (placeholder, title, aria-label, alt)."""
    bare = re.sub(r'<code translate="no">.*?</code>', " ", _JINJA.sub(" ", source))  # commands, not language
    found = [m.group(3) for m in _SHOWN_ATTRS.finditer(bare)]
    text = _TAG.sub(" ", re.sub(r"&[a-z]+;|&#\d+;", " ", bare))
    return [w for chunk in (*found, text) for w in _WORD.findall(chunk)]


def test_no_template_shows_literal_text_every_word_goes_through_the_catalog() -> None:
    left = {p.name: _leftover_text(p.read_text()) for p in sorted(TEMPLATES.glob("*.html"))}
    assert {name: words for name, words in left.items() if words} == {}


def test_every_key_used_anywhere_exists_and_every_catalog_key_is_used() -> None:
    """The reverse check: every t("key") of the templates, our ES modules and the web layer's Python
    is in the catalog, and every catalog key is used (no text only one language would miss)."""
    sources = [*TEMPLATES.glob("*.html"), *STATIC.glob("*.js"),
               *(p for p in TEMPLATES.parent.glob("*.py") if p.name not in ("i18n.py", "catalog.py"))]
    used: set[str] = set()
    prefixes: set[str] = set()
    for p in sources:
        text = p.read_text()
        used |= set(re.findall(r"""\bt\(["']([a-z0-9_.]+)["']""", text))
        prefixes |= set(re.findall(r"""\b(?:t|has)\(["']([a-z0-9_.]+\.)["']\s*[+~]""", text))  # t("status." + s)
        prefixes |= set(re.findall(r"""\bt\(f["']([a-z0-9_.]+\.)\{""", text))  # t(f"field.{name}")
    used = {k for k in used if not k.endswith(".")}
    assert used - set(CATALOG) == set()
    quoted = "\n".join(p.read_text() for p in sources)  # also t(cond ? "a" : "b"), tr(request)("key")
    unused = {k for k in CATALOG if k not in used and f'"{k}"' not in quoted and f"'{k}'" not in quoted
              and not any(k.startswith(p) for p in prefixes)}
    assert unused == set()
    for key, texts in CATALOG.items():  # the same {placeholders} in both languages
        assert len({tuple(sorted(re.findall(r"\{(\w+)\}", v))) for v in texts.values()}) == 1, key
