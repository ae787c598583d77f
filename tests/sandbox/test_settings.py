"""Settings from the environment, and the redirect URI rule (docs/SANDBOX.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tiktok_sandbox.config import Settings
from tiktok_sandbox.faults import Faults
from tiktok_sandbox.sandbox import Sandbox

ENV_NAMES = [
    "TIKTOK_APP_ID",
    "TIKTOK_APP_SECRET",
    "TIKTOK_SANDBOX_APP_NAME",
    "TIKTOK_SANDBOX_REDIRECT_URIS",
    "TIKTOK_SANDBOX_LOOPBACK_ANY_PORT",
    "TIKTOK_SANDBOX_QPS_LIMIT",
    "TIKTOK_SANDBOX_MAX_IDS_PER_REQUEST",
    "TIKTOK_SANDBOX_AUDIENCE_CAP",
    "TIKTOK_SANDBOX_SIZE_THRESHOLD",
    "TIKTOK_SANDBOX_SEED",
    "TIKTOK_SANDBOX_DATA_DIR",
]


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(clean_env):
    settings = Settings.from_env()

    assert settings.app_id == "7000000000000000001"
    assert settings.app_secret == "sandbox-secret-change-me"
    assert settings.redirect_uris == (
        "http://127.0.0.1:8000/partners/tiktok/callback/",
        "http://localhost:8000/partners/tiktok/callback/",
    )
    assert settings.loopback_any_port is False
    assert (settings.qps_limit, settings.max_rows_per_request) == (50, 10_000)
    assert (settings.audience_cap, settings.size_threshold) == (400, 1_000)
    assert settings.data_dir == Path("var/tiktok_sandbox")


def test_everything_comes_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("TIKTOK_APP_ID", "42")
    clean_env.setenv("TIKTOK_APP_SECRET", "s3cret")
    clean_env.setenv(
        "TIKTOK_SANDBOX_REDIRECT_URIS", " https://a.example/cb/ ,https://b.example/cb/,"
    )
    clean_env.setenv("TIKTOK_SANDBOX_LOOPBACK_ANY_PORT", "true")
    clean_env.setenv("TIKTOK_SANDBOX_QPS_LIMIT", "10")
    clean_env.setenv("TIKTOK_SANDBOX_MAX_IDS_PER_REQUEST", "500")
    clean_env.setenv("TIKTOK_SANDBOX_AUDIENCE_CAP", "3")
    clean_env.setenv("TIKTOK_SANDBOX_SIZE_THRESHOLD", "100")
    clean_env.setenv("TIKTOK_SANDBOX_SEED", "7")
    clean_env.setenv("TIKTOK_SANDBOX_DATA_DIR", str(tmp_path))

    settings = Settings.from_env()

    assert (settings.app_id, settings.app_secret) == ("42", "s3cret")
    assert settings.redirect_uris == ("https://a.example/cb/", "https://b.example/cb/")
    assert settings.loopback_any_port is True
    assert settings.qps_limit == 10
    assert settings.max_rows_per_request == 500
    assert settings.audience_cap == 3
    assert settings.size_threshold == 100
    assert settings.seed == 7
    assert settings.data_dir == tmp_path


def test_a_zero_qps_limit_is_refused(clean_env):
    clean_env.setenv("TIKTOK_SANDBOX_QPS_LIMIT", "0")

    with pytest.raises(ValueError, match="TIKTOK_SANDBOX_QPS_LIMIT"):
        Settings.from_env()


@pytest.fixture
def sandbox_factory(clean_env, tmp_path) -> Iterator:
    opened = []

    def make(**changes) -> Sandbox:
        settings = replace(Settings.from_env(), data_dir=tmp_path / str(len(opened)), **changes)
        sandbox = Sandbox(settings)
        opened.append(sandbox)
        return sandbox

    yield make
    for sandbox in opened:
        sandbox.close()


def test_redirect_uris_match_exactly_by_default(sandbox_factory):
    sandbox = sandbox_factory()

    assert sandbox.redirect_uri_allowed("http://127.0.0.1:8000/partners/tiktok/callback/")
    assert not sandbox.redirect_uri_allowed("http://127.0.0.1:8000/partners/tiktok/callback")
    assert not sandbox.redirect_uri_allowed("http://127.0.0.1:8123/partners/tiktok/callback/")


def test_loopback_any_port_allows_only_another_port_of_the_same_loopback_host(sandbox_factory):
    sandbox = sandbox_factory(loopback_any_port=True)

    assert sandbox.redirect_uri_allowed("http://127.0.0.1:8123/partners/tiktok/callback/")
    assert sandbox.redirect_uri_allowed("http://localhost:51000/partners/tiktok/callback/")
    assert not sandbox.redirect_uri_allowed("http://127.0.0.1:8123/other/")
    assert not sandbox.redirect_uri_allowed("https://127.0.0.1:8123/partners/tiktok/callback/")
    assert not sandbox.redirect_uri_allowed("http://example.com:8000/partners/tiktok/callback/")


def test_faults_draw_the_script_first_then_probabilities(sandbox_factory):
    sandbox = sandbox_factory()
    faults = Faults().updated({"script": ["50000", "none"], "probabilities": {"51001": 1.0}})

    assert [faults.draw(sandbox.rng) for _ in range(3)] == ["50000", None, "51001"]
