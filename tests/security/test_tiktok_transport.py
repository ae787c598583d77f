"""TikTok over https only, unless plain http to a sandbox on this machine is allowed
(settings.TIKTOK_API_ALLOW_HTTP: development, or TIKTOK_API_ALLOW_HTTP=1; issue 15, item 7).

oauthlib refuses http:// URLs unless OAUTHLIB_INSECURE_TRANSPORT is set, and that variable
switches the check off for the whole process: the client sets it only when allowed.
(Production settings refusing to start with an http TIKTOK_API_BASE:
tests/braze_sync/test_deploy_settings.py.)"""

from __future__ import annotations

import os

import pytest

from partners.tiktok.client import TikTokClient

INSECURE = "OAUTHLIB_INSECURE_TRANSPORT"


def client(base_url: str) -> TikTokClient:
    return TikTokClient(base_url=base_url, app_id="app", secret="secret")


@pytest.fixture(autouse=True)
def no_insecure_transport():
    """Unset for the test (an earlier client may have set it), as it was afterwards."""
    before = os.environ.pop(INSECURE, None)
    yield
    os.environ.pop(INSECURE, None)
    if before is not None:
        os.environ[INSECURE] = before


@pytest.mark.parametrize("base", ["http://127.0.0.1:8100", "http://localhost:8100"])
def test_a_loopback_sandbox_gets_plain_http_only_when_allowed(settings, base):
    settings.TIKTOK_API_ALLOW_HTTP = False
    with pytest.raises(ValueError, match="TIKTOK_API_BASE must be https"):
        client(base)
    assert INSECURE not in os.environ

    settings.TIKTOK_API_ALLOW_HTTP = True
    client(base)
    assert os.environ[INSECURE] == "1"


@pytest.mark.parametrize("base", ["http://tiktok.example.com", "http://127.0.0.1.example.com"])
def test_plain_http_elsewhere_is_never_allowed(settings, base):
    settings.TIKTOK_API_ALLOW_HTTP = True
    with pytest.raises(ValueError, match="TIKTOK_API_BASE must be https"):
        client(base)
    assert INSECURE not in os.environ


def test_https_needs_nothing(settings):
    settings.TIKTOK_API_ALLOW_HTTP = False
    client("https://business-api.tiktok.com")
    assert INSECURE not in os.environ
