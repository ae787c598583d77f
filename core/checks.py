"""A system check that the translation catalogs are compiled (issue 16).

Django reads compiled catalogs (.mo) only; without them every page silently falls back to
English. `make install` compiles them (Babel, pure Python); a production machine runs
`pybabel compile -d locale -D django` after installing a release (docs/OPERATIONS.md).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Warning, register

CATALOG_NOT_COMPILED = "core.W001"


@register()
def translation_catalogs_compiled_check(app_configs, **kwargs) -> list[Warning]:
    warnings = []
    for locale_dir in settings.LOCALE_PATHS:
        for po in sorted(Path(locale_dir).glob("*/LC_MESSAGES/django.po")):
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
                warnings.append(
                    Warning(
                        f"{mo} is missing or older than its catalog: pages in that language "
                        "show the older translation, or English.",
                        hint="Run `make install`, or `pybabel compile -d locale -D django`.",
                        id=CATALOG_NOT_COMPILED,
                    )
                )
    return warnings
