"""manage.py demo_guide: the last thing `make run` prints (the `guide` line of the Procfile).

Waits until the web server, the TikTok sandbox and a Celery worker are up, prints the demo's
sign-ins and its three steps with their URLs once more (the start-up output has scrolled them
away by then), then stays until Ctrl-C: honcho stops every process when one of them ends."""

from __future__ import annotations

import signal
import sys
import time
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone

from appgroups.models import Role
from canvas.models import Canvas
from demo.services import DEMO_APP_GROUP, DEMO_CANVAS, DEMO_USERS, demo_credentials_read
from telemetry.models import WorkerHeartbeat

WAIT_SECONDS = 120


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own URLs)
            return response.status == 200
    except OSError:
        return False


def _worker_up() -> bool:
    recent = timezone.now() - timedelta(seconds=30)
    return WorkerHeartbeat.objects.filter(last_seen_at__gte=recent, stopped_at=None).exists()


class Command(BaseCommand):
    help = "Wait for the processes of `make run`, then print how to try the demo."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=WAIT_SECONDS)
        parser.add_argument("--once", action="store_true", help="print and exit (tests)")

    def handle(self, *args, wait: float, once: bool, **options):
        if not settings.DEBUG:
            raise CommandError("demo_guide is for development: set DJANGO_DEBUG=1.")
        web = settings.DASHBOARD_URL
        checks = {
            "the web server": lambda: _answers(f"{web}/healthz"),
            "the TikTok sandbox": lambda: _answers(f"{settings.TIKTOK_API_BASE}/_sandbox/health"),
            "a Celery worker": _worker_up,
        }
        deadline = time.monotonic() + wait
        waiting = list(checks)
        while True:
            waiting = [name for name in waiting if not checks[name]()]
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(1)
        self.stdout.write(self._guide(web, waiting))
        self.stdout.flush()
        if once:
            return
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return

    def _guide(self, web: str, not_up: list[str]) -> str:
        lines = ["", "=" * 72]
        if not_up:
            lines.append(f"Still not answering: {', '.join(not_up)}. See the lines above.")
        else:
            lines.append(f"braze_sync is up: {web}/")
        credentials = demo_credentials_read()
        for email, role in DEMO_USERS:
            password = credentials.get(email, "(see var/demo-credentials.txt)")
            lines.append(f"  {Role(role).label:<9} {email}  password: {password}")
        canvas = Canvas.objects.filter(app_group__name=DEMO_APP_GROUP, name=DEMO_CANVAS).first()
        if canvas is not None:
            summary = web + reverse("canvas:summary", args=[canvas.pk])
            analytics = web + reverse("analytics:canvas-analytics", args=[canvas.pk])
            lines += [
                "Try the demo in three steps:",
                f"  1. Signed in as the admin, open {web}{reverse('partners:tiktok')}",
                "     (Partner Integrations > Technology Partners > TikTok), click Connect TikTok,",
                "     confirm on the sandbox's consent page and Save the ad accounts.",
                f"  2. Signed in as the marketer, open {summary}",
                f"     (Canvas “{DEMO_CANVAS}”) and click Launch Canvas.",
                f"  3. Open {analytics}",
                "     and watch Users Synced rise within 10 seconds.",
            ]
        lines += ["Ctrl-C stops everything.", "=" * 72, ""]
        return "\n".join(lines)
