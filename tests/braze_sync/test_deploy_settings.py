"""Production settings (DJANGO_DEBUG=0) pass Django's deployment checklist with no warning, and
refuse to start, or fail the checklist, when a setting production needs is missing."""

import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

# What a test sets itself, never inherited from the environment running the tests. The
# browser fixture's test-only DJANGO_ALLOW_ASYNC_UNSAFE is not part of production.
NOT_INHERITED = (
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_BEHIND_PROXY",
    "LOGIN_CLIENT_ADDRESS_HEADER",
    "TIKTOK_API_BASE",
    "TIKTOK_API_ALLOW_HTTP",
    # Set by any TikTok client made in this process (the sandbox is http).
    "OAUTHLIB_INSECURE_TRANSPORT",
)
TIKTOK_PRODUCTION_BASE = "https://business-api.tiktok.com"


def production_env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return env | {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "braze-sync.example.com",
        "TIKTOK_TOKEN_KEYS": Fernet.generate_key().decode(),
        **variables,
    }


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


CHECK_DEPLOY = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]


def test_check_deploy_is_clean_under_production_settings():
    result = run(CHECK_DEPLOY, production_env(LOGIN_CLIENT_ADDRESS_HEADER="X-Forwarded-For"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_DEBUG"] = "0"
    result = run([sys.executable, "manage.py", "check"], env)

    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_refuse_to_start_without_token_keys():
    env = {k: v for k, v in os.environ.items() if k != "TIKTOK_TOKEN_KEYS"}
    env |= {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    result = run([sys.executable, "manage.py", "check"], env)

    assert result.returncode != 0
    assert "Set TIKTOK_TOKEN_KEYS" in result.stderr


# Sign-in limits behind the proxy (issue 15, item 3): without LOGIN_CLIENT_ADDRESS_HEADER every
# client counts as the proxy's address, and 50 failed sign-ins with random emails locked every
# real user out.


def test_check_deploy_fails_behind_the_proxy_until_the_client_address_header_is_set():
    result = run(CHECK_DEPLOY, production_env())

    assert result.returncode != 0, result.stdout + result.stderr
    assert "appgroups.E001" in result.stderr
    assert "LOGIN_CLIENT_ADDRESS_HEADER is empty behind the TLS proxy" in result.stderr
    # The hint is the one line to add.
    assert "HINT: Set LOGIN_CLIENT_ADDRESS_HEADER=X-Forwarded-For" in result.stderr


def test_check_deploy_without_a_proxy_needs_no_client_address_header():
    """A deployment that terminates TLS itself says so (DJANGO_BEHIND_PROXY=0): the connection's
    address is then the client's."""
    result = run(CHECK_DEPLOY, production_env(DJANGO_BEHIND_PROXY="0"))

    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_for_a_wsgi_variable_name_instead_of_a_header():
    result = run(CHECK_DEPLOY, production_env(LOGIN_CLIENT_ADDRESS_HEADER="HTTP_X_FORWARDED_FOR"))

    assert result.returncode != 0
    assert "appgroups.E002" in result.stderr


# TikTok over https only in production (issue 15, item 7): an unset TIKTOK_API_BASE fell back to
# the loopback sandbox over plain http, which also switched oauthlib's https requirement off for
# the whole process (OAUTHLIB_INSECURE_TRANSPORT).

PROBE = """
import os, django
django.setup()
from django.conf import settings
from partners.tiktok.client import TikTokClient
TikTokClient.from_settings()
print(settings.TIKTOK_API_BASE, os.environ.get("OAUTHLIB_INSECURE_TRANSPORT", "-"))
"""


def test_production_talks_to_tiktok_over_https_by_default():
    result = run([sys.executable, "-c", PROBE], production_env())

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [TIKTOK_PRODUCTION_BASE, "-"]


@pytest.mark.parametrize("base", ["http://127.0.0.1:8100", "http://tiktok.example.com"])
def test_production_settings_refuse_to_start_with_plain_http_to_tiktok(base):
    result = run([sys.executable, "manage.py", "check"], production_env(TIKTOK_API_BASE=base))

    assert result.returncode != 0, result.stdout + result.stderr
    assert "ImproperlyConfigured" in result.stderr
    assert f"TIKTOK_API_BASE must be https in production (DJANGO_DEBUG=0), not {base}" in (
        result.stderr
    )


@pytest.mark.parametrize("base", ["http://127.0.0.1:8100", "http://localhost:8100/"])
def test_the_sandbox_opt_out_allows_plain_http_to_this_machine(base):
    env = production_env(TIKTOK_API_BASE=base, TIKTOK_API_ALLOW_HTTP="1")
    result = run([sys.executable, "-c", PROBE], env)

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [base.rstrip("/"), "1"]


@pytest.mark.parametrize(
    "base", ["http://tiktok.example.com", "http://127.0.0.1.example.com:8100", "ftp://127.0.0.1"]
)
def test_the_sandbox_opt_out_is_only_honoured_for_this_machine(base):
    env = production_env(TIKTOK_API_BASE=base, TIKTOK_API_ALLOW_HTTP="1")
    result = run([sys.executable, "manage.py", "check"], env)

    assert result.returncode != 0, result.stdout + result.stderr
    assert "TIKTOK_API_ALLOW_HTTP=1 only allows a sandbox on this machine" in result.stderr
