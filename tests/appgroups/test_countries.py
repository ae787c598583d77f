"""Country names for the default-country select, without phonenumbers' prefix data."""

import os
import subprocess
import sys

from appgroups.countries import country_name


def test_names_in_english_and_other_languages():
    assert country_name("DE") == "Germany"
    assert country_name("us") == "United States"
    assert country_name("DE", "es") == "Alemania"  # the table's own entry
    assert country_name("BR", "pt") == "Brasil"
    assert country_name("DE", "xx") == "Germany"  # no such language: English
    assert country_name("ZZ") == "ZZ"  # unknown: the code


def test_processes_do_not_load_every_prefix_place_name():
    """phonenumbers.geocoder's prefix data costs ~100 MB in every process that imports it: it
    doubled the Celery workers' memory once (docs/PERFORMANCE.md)."""
    script = (
        "import sys, django; django.setup()\n"
        "from django.conf import settings; from django.urls import get_resolver\n"
        "from braze_sync.celery import app; app.loader.import_default_modules()\n"
        "get_resolver().url_patterns\n"
        "from appgroups.forms import AppGroupSettingsForm; AppGroupSettingsForm().as_div()\n"
        "print(sorted(m for m in sys.modules if m.startswith('phonenumbers.geo')))\n"
    )
    env = {"DJANGO_SETTINGS_MODULE": "braze_sync.settings", "DJANGO_DEBUG": "1"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        env={**os.environ, **env},
    )  # fmt: skip
    assert out.stdout.strip() == "[]"
