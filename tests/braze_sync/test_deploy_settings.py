"""Production settings (DJANGO_DEBUG=0) pass Django's deployment checklist with no warning."""

import os
import secrets
import subprocess
import sys

from cryptography.fernet import Fernet
from django.conf import settings


def test_check_deploy_is_clean_under_production_settings():
    # The browser fixture's test-only DJANGO_ALLOW_ASYNC_UNSAFE is not part of production.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env |= {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "braze-sync.example.com",
        "TIKTOK_TOKEN_KEYS": Fernet.generate_key().decode(),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_DEBUG"] = "0"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_refuse_to_start_without_token_keys():
    env = {k: v for k, v in os.environ.items() if k != "TIKTOK_TOKEN_KEYS"}
    env |= {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode != 0
    assert "Set TIKTOK_TOKEN_KEYS" in result.stderr
