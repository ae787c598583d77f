"""Country names for the default-country select and the notices about it.

From phonenumbers' locale table (ISO 3166 region → name per language). phonenumbers.geocoder
would give the same names, but importing it loads every number prefix's place names: ~100 MB
in each process that imports this module, Celery workers included (this module is imported by
Workspace Settings' form and by a selector the workers load). The table alone is 600 KB, so it
is loaded on its own, without its package's prefix data."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import phonenumbers


@cache
def _locale_table() -> dict[str, dict[str, str]]:
    path = Path(phonenumbers.__file__).with_name("geodata") / "locale.py"
    spec = importlib.util.spec_from_file_location("phonenumbers.geodata.locale", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LOCALE_DATA


@cache
def country_name(region: str, language: str = "en") -> str:
    """ "Germany" for "DE" (in `language` where the table has it, else English), else the code.

    The table writes "*xx" for "the same as in language xx"."""
    names = _locale_table().get(region.upper(), {})
    name = names.get(language) or names.get("en", "")
    for _ in range(len(names)):
        if not name.startswith("*"):
            break
        name = names.get(name[1:], "")
    return name or region
