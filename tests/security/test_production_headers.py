"""Cookies and headers under production settings (DJANGO_DEBUG=0), measured on real responses.

Settings are read once per process, so a child process runs the product with production
settings on a throwaway SQLite file and reports what a browser would get. (`check --deploy`
under the same settings is tests/braze_sync/test_deploy_settings.py.)
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

HOST = "braze-sync.example.com"

PROBE = r"""
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from appgroups.models import User

User.objects.create_user("ops@example.com", "a-long-Password-91")
https = {"secure": True, "HTTP_HOST": "%(host)s"}
client = Client()
page = client.get("/login/", **https)
token = client.cookies["csrftoken"].value
signed_in = client.post(
    "/login/", {"username": "ops@example.com", "password": "a-long-Password-91",
                "csrfmiddlewaretoken": token},
    HTTP_REFERER="https://%(host)s/login/", **https,
)
home = client.get("/", **https)
plain = Client().get("/login/", HTTP_HOST="%(host)s")
proxied = Client().get("/login/", HTTP_HOST="%(host)s", HTTP_X_FORWARDED_PROTO="https")
health = Client().get("/healthz", HTTP_HOST="%(host)s")
missing = client.get("/no-such-page/", **https)
api = Client().post("/api/users/track", "{}", content_type="application/json", **https)

def cookies(response):
    return {
        name: {k: str(morsel[k]) for k in ("secure", "httponly", "samesite")}
        for name, morsel in response.cookies.items()
    }

def headers(response):
    return {k.lower(): v for k, v in response.headers.items()}

print(json.dumps({
    "login": {"status": page.status_code, "headers": headers(page), "cookies": cookies(page)},
    "signed_in": {"status": signed_in.status_code, "cookies": cookies(signed_in)},
    "home": {"status": home.status_code, "headers": headers(home)},
    "plain": {"status": plain.status_code, "location": plain.get("Location", "")},
    "proxied": {"status": proxied.status_code},
    "health": {"status": health.status_code},
    "missing": {"status": missing.status_code, "body": missing.content.decode()},
    "api": {"status": api.status_code, "headers": headers(api)},
}))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prod")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env |= {
        "DJANGO_SETTINGS_MODULE": "braze_sync.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "TIKTOK_TOKEN_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{folder / 'prod.sqlite3'}",
        "CELERY_FILESYSTEM_DIR": str(folder / "celery"),
        "REDIS_URL": "",
        # As `check --deploy` requires behind the proxy (appgroups/checks.py).
        "LOGIN_CLIENT_ADDRESS_HEADER": "X-Forwarded-For",
        # The environment running the tests may point TIKTOK_API_BASE at the sandbox on this
        # machine (plain http), which production settings refuse without this opt-out.
        "TIKTOK_API_ALLOW_HTTP": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE % {"host": HOST}],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


@pytest.mark.parametrize("page", ["login", "home", "api"])
def test_security_headers_on_pages_and_the_api(production, page):
    headers = production[page]["headers"]
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (page, name, headers.get(name))


def test_cookies_are_secure_http_only_and_same_site(production):
    csrf = production["login"]["cookies"]["csrftoken"]
    session = production["signed_in"]["cookies"]["sessionid"]
    assert production["signed_in"]["status"] == 302  # the sign-in worked over https
    for cookie in (csrf, session):
        assert cookie["secure"] == "True"
        assert cookie["httponly"] == "True"
        assert cookie["samesite"] == "Lax"


def test_plain_http_is_redirected_to_https_except_health_checks(production):
    assert production["plain"]["status"] == 301
    assert production["plain"]["location"] == f"https://{HOST}/login/"
    # Behind the TLS proxy (X-Forwarded-Proto: https) the page is served.
    assert production["proxied"]["status"] == 200
    assert production["health"]["status"] in (200, 503)  # never redirected


def test_error_pages_reveal_no_debug_information(production):
    assert production["missing"]["status"] == 404
    body = production["missing"]["body"]
    assert "URLconf" not in body and "Traceback" not in body and "DEBUG" not in body
