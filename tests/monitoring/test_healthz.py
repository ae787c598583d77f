"""/healthz reports database and broker reachability, without login."""

import pytest
from django.db.utils import OperationalError

from braze_sync.celery import app
from monitoring import health


@pytest.mark.django_db
def test_healthz_is_public_and_reports_both_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["broker"]["transport"] == app.conf.broker_url.split("://")[0]


@pytest.fixture
def broker_override(monkeypatch):
    """Point the Celery app at another broker for one test."""
    # Celery prefers the CELERY_BROKER_URL environment variable over its configuration.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    return lambda key, value: monkeypatch.setitem(app.conf, key, value)


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_is_down(client, broker_override):
    # Nothing listens on port 1: a real connection attempt that fails.
    broker_override("broker_url", "redis://127.0.0.1:1/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["broker"] == {"ok": False, "transport": "redis", "error": body["broker"]["error"]}
    assert body["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_answers_503_when_the_filesystem_broker_folder_is_missing(
    client, broker_override, tmp_path
):
    broker_override("broker_url", "filesystem://localhost/")
    missing = str(tmp_path / "gone")
    broker_override(
        "broker_transport_options",
        {"data_folder_in": missing, "data_folder_out": missing, "control_folder": missing},
    )

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    class BrokenConnection:
        vendor = "postgresql"

        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(health, "connection", BrokenConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == {
        "ok": False,
        "vendor": "postgresql",
        "error": "OperationalError",
    }
