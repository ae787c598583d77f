"""Which language a person reads (issue 16): the browser's before sign-in, the sign-in page's
switch, and after sign-in the user's own choice, which wins over the browser."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext

from analytics.selectors import ActivitySeries
from analytics.templatetags.analytics_tags import activity_chart
from canvas.models import Canvas
from core.i18n import language_for
from core.templatetags.humanize_numbers import intcomma_plain
from tests.factories import CanvasFactory

pytestmark = pytest.mark.django_db


def test_before_sign_in_the_browser_decides(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert page.status_code == 200
    assert page["Content-Language"] == "de"
    assert '<html lang="de">' in page.text
    assert "Anmelden" in page.text and "Sign in" not in page.text


def test_brazilian_portuguese_is_its_own_language(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert page["Content-Language"] == "pt-br"
    assert "Entrar" in page.text


def test_without_a_header_the_dashboard_speaks_english(client):
    page = client.get(reverse("login"))
    assert page["Content-Language"] == "en"
    assert "Sign in" in page.text


def test_the_sign_in_page_switch_sets_the_language_cookie(client):
    answer = client.post(
        reverse("appgroups:language-set"), {"language": "fr", "next": reverse("login")}
    )
    assert answer.status_code == 302 and answer["Location"] == reverse("login")
    assert answer.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de")
    assert page["Content-Language"] == "fr"
    assert 'lang="fr" selected' in page.text


def test_the_users_choice_wins_over_the_browser(admin_client, admin):
    answer = admin_client.post(
        reverse("appgroups:language-set"), {"language": "es", "next": reverse("home")}
    )
    assert answer.status_code == 302
    admin.user.refresh_from_db()
    assert admin.user.language == "es"
    # Another device: no cookie, a browser asking for German; the stored choice still wins.
    admin_client.cookies.pop(settings.LANGUAGE_COOKIE_NAME)
    page = admin_client.get(reverse("partners:technology-partners"), HTTP_ACCEPT_LANGUAGE="de")
    assert page["Content-Language"] == "es"
    assert "Socios tecnológicos" in page.text
    assert "Technologiepartner" not in page.text


def test_a_user_without_a_choice_reads_the_browsers_language(admin_client):
    page = admin_client.get(reverse("partners:technology-partners"), HTTP_ACCEPT_LANGUAGE="de")
    assert page["Content-Language"] == "de"
    assert "Technologiepartner" in page.text


@pytest.mark.parametrize("language", ["xx", "", "en-us"])
def test_an_unknown_language_changes_nothing(admin_client, admin, language):
    admin_client.post(reverse("appgroups:language-set"), {"language": language, "next": "/"})
    admin.user.refresh_from_db()
    assert admin.user.language == ""


def test_the_switch_does_not_redirect_off_site(client):
    answer = client.post(
        reverse("appgroups:language-set"), {"language": "de", "next": "https://evil.test/"}
    )
    assert answer["Location"] == reverse("home")


def test_the_switch_needs_post(client):
    assert client.get(reverse("appgroups:language-set")).status_code == 405


def test_language_for_a_user(admin):
    assert language_for(admin.user) == settings.LANGUAGE_CODE
    admin.user.language = "pt-br"
    assert language_for(admin.user) == "pt-br"


@pytest.mark.parametrize(
    ("language", "written"),
    [("en", "1,234,567"), ("de", "1.234.567"), ("pt-br", "1.234.567"), ("fr", "1\xa0234\xa0567")],
)
def test_numbers_follow_the_locale(language, written):
    with translation.override(language):
        assert intcomma_plain(1234567) == written


def test_plural_forms():
    # "1 minute" / "3 minutes" in every language: the sign-in refusal counts minutes.
    for language in ("es", "pt-br", "de", "fr"):
        with translation.override(language):
            one = ngettext("%(count)d minute", "%(count)d minutes", 1) % {"count": 1}
            three = ngettext("%(count)d minute", "%(count)d minutes", 3) % {"count": 3}
        assert one != three and one.startswith("1 ") and three.startswith("3 "), language


@pytest.mark.parametrize(
    ("language", "written"),
    [
        ("en", "March 5, 2026, 14:30"),
        ("de", "5. März 2026 14:30"),
        ("es", "5 de marzo de 2026 a las 14:30"),
        ("fr", "5 mars 2026 14:30"),
    ],
)
def test_dates_follow_the_locale(admin_client, app_group, language, written):
    canvas = CanvasFactory(app_group=app_group, name="Spring")
    when = datetime.datetime(2026, 3, 5, 14, 30, tzinfo=datetime.UTC)
    Canvas.objects.filter(pk=canvas.pk).update(updated_at=when)
    page = admin_client.get(reverse("canvas:list"), HTTP_ACCEPT_LANGUAGE=language)
    assert written in page.text


def test_each_language_is_named_in_itself(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es")
    for name in ("English", "Español", "Deutsch", "Français"):
        assert f">{name}</option>" in page.text
    assert "Inglés" not in page.text


def test_launch_refusal_reasons_in_the_users_language(marketer_client, marketer, app_group):
    marketer.user.language = "es"
    marketer.user.save(update_fields=["language"])
    canvas = CanvasFactory(app_group=app_group, name="Vacío")
    page = marketer_client.post(reverse("canvas:launch", args=[canvas.pk]), follow=True)
    assert "No se lanzó el Canvas" in page.text
    assert "not launched" not in page.text


def test_error_pages_speak_the_language(admin_client):
    page = admin_client.get("/canvas/987654321/summary/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 404
    assert '<html lang="fr">' in page.text
    assert "Page introuvable" in page.text and "Not found" not in page.text


@pytest.mark.parametrize(
    ("language", "peak", "first_day"),
    [("en", "12,500", "Jan 05"), ("de", "12.500", "05. Jan"), ("fr", "12\xa0500", "5 Jan")],
)
def test_the_analytics_chart_writes_numbers_and_days_in_the_language(language, peak, first_day):
    days = [datetime.datetime(2026, 1, 5 + i, tzinfo=datetime.UTC) for i in range(3)]
    series = ActivitySeries("day", days, [12_500, 3, 0], [1_200, 1_300, 0], [0, 0, 0])
    with translation.override(language):
        chart = activity_chart(series, "Days")
    assert chart["peak"] == peak
    assert chart["first"].startswith(first_day)
    assert {line["key"]: line["total_text"] for line in chart["lines"]}["synced"] == (
        {"en": "2,500", "de": "2.500", "fr": "2\xa0500"}[language]
    )
