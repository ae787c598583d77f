"""The translation catalogs (locale/<lang>/LC_MESSAGES/django.po) against the code (issue 16).

The messages in use are extracted here in pure Python, the way `make messages` (Django's
makemessages) finds them: Python files through Babel's extractor with Django's keywords, and
templates through Django's own templatize first. So the check needs no gettext system package.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation import to_locale
from django.utils.translation.template import templatize

from tests.i18n.document_labels import DOCUMENT_LABELS

ROOT = Path(settings.BASE_DIR)
# Not the dashboard's text: the REST API (English, as Braze's), the TikTok sandbox (English, as
# TikTok's pages), tools and tests. The same list as the Makefile's `messages` target.
NOT_TRANSLATED = {".venv", "tiktok_sandbox", "bench", "chaos", "tests", "api", "var", "docs"}
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
TRANSLATED_LANGUAGES = [code for code, _name in settings.LANGUAGES if code != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]|\{(\w*)\}")


def _source_files():
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in NOT_TRANSLATED or "migrations" in relative.parts:
            continue
        if path.suffix == ".py" or (
            path.suffix in {".html", ".txt"} and "templates" in relative.parts
        ):
            yield path


def _messages_in_use() -> dict[tuple[str | None, str], str]:
    """(context, msgid) → where it is used, for every translatable string of the dashboard."""
    found: dict[tuple[str | None, str], str] = {}
    for path in _source_files():
        text = path.read_text(encoding="utf-8")
        if path.suffix != ".py":
            # templatize turns a template into xgettext's input: gettext() calls among lines of
            # X; without their indentation, those lines are Python tokens too.
            text = "\n".join(
                line.lstrip() for line in templatize(text, origin=str(path)).splitlines()
            )
        for _lineno, _funcname, message, _comments in extract_python(
            io.BytesIO(text.encode("utf-8")), KEYWORDS, [], {}
        ):
            context = None
            if isinstance(message, tuple) and _funcname in {
                "pgettext",
                "pgettext_lazy",
                "npgettext",
                "npgettext_lazy",
            }:
                context, message = message[0], message[1:]
                message = message[0] if len(message) == 1 else message
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault((context, msgid), str(path.relative_to(ROOT)))
    return found


@pytest.fixture(scope="module")
def messages_in_use():
    return _messages_in_use()


def _catalog(language: str):
    path = ROOT / "locale" / to_locale(language) / "LC_MESSAGES" / "django.po"
    with path.open("rb") as po:
        return read_po(po, locale=to_locale(language))


def _placeholders(text: str) -> set[str]:
    return {match.group(0) for match in PLACEHOLDER.finditer(text)}


def test_the_dashboard_marks_its_strings(messages_in_use):
    # The extraction finds the labels the documents name: a broken extractor (or code that
    # stopped marking them) cannot pass the other tests with an empty list.
    msgids = {msgid for _context, msgid in messages_in_use}
    assert {"Technology Partners", "Connect TikTok", "Users Synced", "Sign in"} <= msgids
    assert len(msgids) > 300


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_every_message_in_use_is_translated(language, messages_in_use):
    catalog = _catalog(language)
    missing, untranslated, fuzzy = [], [], []
    for (context, msgid), where in sorted(messages_in_use.items(), key=str):
        message = catalog.get(msgid, context=context)
        if message is None:
            missing.append(f"{where}: {msgid!r}")
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(msgid)
        if message.fuzzy:
            fuzzy.append(msgid)
    assert not missing, (
        f"{len(missing)} messages not in the catalog (make messages): {missing[:20]}"
    )
    assert not untranslated, f"{len(untranslated)} empty msgstr: {untranslated[:20]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy: {fuzzy[:20]}"


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_placeholders_match(language):
    catalog = _catalog(language)
    wrong = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        if isinstance(message.id, tuple):
            # Django formats every plural form with the same variables: no form may use one the
            # msgids lack, and the plural form carries all of the plural msgid's.
            expected = _placeholders(message.id[0]) | _placeholders(message.id[1])
            if any(_placeholders(form) - expected for form in message.string) or _placeholders(
                message.string[-1]
            ) != _placeholders(message.id[1]):
                wrong.append((message.id, message.string))
        elif _placeholders(message.string) != _placeholders(message.id):
            wrong.append((message.id, message.string))
    assert not wrong, wrong[:20]


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_the_documents_labels_are_the_catalogs_words(language):
    catalog = _catalog(language)
    for english, label in DOCUMENT_LABELS[language].items():
        message = catalog.get(english)
        assert message is not None, english
        assert message.string == label, (english, message.string, label)


def test_every_catalog_has_its_plural_rule():
    for language in TRANSLATED_LANGUAGES:
        catalog = _catalog(language)
        assert catalog.plural_forms.startswith("nplurals="), language
