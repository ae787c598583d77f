"""manage.py demo_guide, the end of `make run`'s start-up output: the sign-ins and the demo's
three steps with their URLs, once the processes answer."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from canvas.models import Canvas
from demo.services import DEMO_CANVAS, demo_credentials_read
from telemetry.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def guide(*args) -> str:
    out = io.StringIO()
    call_command("demo_guide", "--once", *args, stdout=out)
    return out.getvalue()


def test_the_guide_names_the_three_steps_and_what_is_not_up(settings, tmp_path):
    settings.DEBUG = True
    settings.DEMO_CREDENTIALS_FILE = tmp_path / "demo-credentials.txt"
    settings.DASHBOARD_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.TIKTOK_API_BASE = "http://127.0.0.1:9"
    call_command("seed_demo", stdout=io.StringIO())
    canvas = Canvas.objects.get(name=DEMO_CANVAS)
    WorkerHeartbeat.objects.create(
        hostname="w@test", pid=1, started_at=timezone.now(), last_seen_at=timezone.now()
    )

    text = guide("--wait", "0")

    assert "Still not answering: the web server, the TikTok sandbox." in text
    for email, password in demo_credentials_read().items():
        assert f"{email}  password: {password}" in text
    assert "1. Signed in as the admin, open http://127.0.0.1:9/partners/tiktok/" in text
    assert (
        f"2. Signed in as the marketer, open http://127.0.0.1:9/canvas/{canvas.pk}/summary/" in text
    )
    assert f"3. Open http://127.0.0.1:9/canvas/{canvas.pk}/analytics/" in text
    assert "Ctrl-C stops everything." in text
