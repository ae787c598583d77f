"""Hostile input in the dashboard's forms: HTML and script in every text field (rendered escaped
on every page that shows it), oversized and unicode names, NUL characters, and audience names
TikTok would truncate. The browser half (does a script actually run?) is test_browser_xss.py.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from appgroups.models import AppGroup, RestApiKey
from canvas.models import Canvas, Step, StepType
from partners.models import TikTokAudience
from partners.tiktok.client import MAX_AUDIENCE_NAME_LENGTH
from tests.factories import profile_track
from tests.tiktok import connect_through_oauth, point_at_sandbox
from users.models import Profile, UserImport

pytestmark = pytest.mark.django_db

XSS = "<script>alert('xss')</script><img src=x onerror=alert(1)>\"'&"
ESCAPED = "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
TAG_XSS = "<script>tag()</script>"  # tags have at most 50 characters
UNICODE = "Ünïcødé 🇺🇸 مرحبا 日本語 e\u0301 \u200b"


def assert_escaped(body: str, where: str) -> None:
    assert "<script>alert('xss')" not in body, where
    assert "<img src=x onerror" not in body, where
    assert ESCAPED in body, where


@pytest.fixture
def canvas(marketer_client):
    response = marketer_client.post(
        reverse("canvas:create"), {"name": XSS, "description": XSS, "tags": f"{TAG_XSS}, ok"}
    )
    assert response.status_code == 302
    return Canvas.objects.get()


def add_step(client, canvas, step_type) -> Step:
    client.post(reverse("canvas:step-add", args=[canvas.pk]), {"step_type": step_type})
    return Step.objects.filter(canvas=canvas, step_type=step_type).latest("id")


def test_script_in_canvas_and_step_fields_is_rendered_escaped(marketer_client, canvas):
    delay = add_step(marketer_client, canvas, StepType.DELAY)
    message = add_step(marketer_client, canvas, StepType.MESSAGE)
    split = add_step(marketer_client, canvas, StepType.DECISION_SPLIT)
    sync = add_step(marketer_client, canvas, StepType.AUDIENCE_SYNC)
    edits = [
        (delay, {"name": XSS, "amount": "1", "unit": "hours"}),
        (message, {"name": XSS, "channel": "email", "body": XSS}),
        (split, {"name": XSS}),
        (sync, {"name": XSS}),
    ]
    for step, data in edits:
        response = marketer_client.post(
            reverse("canvas:step-edit", args=[canvas.pk, step.pk]), data
        )
        assert response.status_code == 302, (step.step_type, response.content[:300])
        step.refresh_from_db()
        assert step.name == " ".join(XSS.split())
    # A custom-attribute filter whose value is a script, on the Canvas and on the split.
    script_filter = {
        "add_filter": "1",
        "filter_field": "custom_attribute",
        "filter_key": "plan",
        "filter_op": "equals",
        "filter_value": XSS,
    }
    marketer_client.post(reverse("canvas:audience", args=[canvas.pk]), script_filter)
    marketer_client.post(
        reverse("canvas:step-edit", args=[canvas.pk, split.pk]), {"name": XSS, **script_filter}
    )

    pages = [
        reverse("canvas:list"),
        reverse("canvas:basics", args=[canvas.pk]),
        reverse("canvas:audience", args=[canvas.pk]),
        reverse("canvas:build", args=[canvas.pk]),
        reverse("canvas:summary", args=[canvas.pk]),
        reverse("analytics:canvas-analytics", args=[canvas.pk]),
    ] + [reverse("canvas:step-edit", args=[canvas.pk, s.pk]) for s, _ in edits]
    for url in pages:
        response = marketer_client.get(url)
        assert response.status_code == 200, url
        assert_escaped(response.content.decode(), url)
        assert TAG_XSS not in response.content.decode(), url
    # htmx fragments too.
    fragment = marketer_client.get(
        reverse("canvas:build", args=[canvas.pk]), headers={"HX-Request": "true"}
    )
    assert_escaped(fragment.content.decode(), "build (htmx)")


def test_script_in_settings_keys_profiles_and_imports_is_rendered_escaped(
    admin_client, app_group, monkeypatch
):
    monkeypatch.setattr("users.tasks.user_import_run.delay", lambda import_id: None)
    admin_client.post(
        reverse("appgroups:api-settings"), {"name": XSS, "permissions": ["users.track"]}
    )
    admin_client.post(
        reverse("users:user-import"),
        {"file": SimpleUploadedFile(f"{XSS}.csv", b"external_id\nu1\n", "text/csv")},
    )
    profile = profile_track(
        app_group, external_id=XSS, first_name=XSS, last_name=XSS, home_city=XSS, plan=XSS
    )
    admin_client.post(reverse("appgroups:settings"), {"name": XSS, "default_country": "US"})
    assert AppGroup.objects.get().name == " ".join(XSS.split())
    assert RestApiKey.objects.get().name == XSS
    user_import = UserImport.objects.get()

    for url in [
        reverse("home"),
        reverse("appgroups:settings"),
        reverse("appgroups:api-settings"),
        reverse("users:user-list"),
        reverse("users:user-detail", args=[profile.pk]),
        reverse("users:user-import"),
        reverse("users:user-import-detail", args=[user_import.pk]),
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_escaped(response.content.decode(), url)


@pytest.mark.parametrize(
    ("url_name", "data", "field"),
    [
        ("canvas:create", {"name": "x" * 201}, "name"),
        ("canvas:create", {"name": "ok", "description": "x" * 2001}, "description"),
        ("canvas:create", {"name": "ok", "tags": "x" * 1101}, "tags"),
        ("canvas:create", {"name": "   \u200b  "}, "name"),
        ("canvas:create", {"name": "a\x00b"}, "name"),
        ("canvas:create", {"name": "ok", "description": "a\x00b"}, "description"),
    ],
)
def test_oversized_empty_and_nul_canvas_fields_are_refused(marketer_client, url_name, data, field):
    response = marketer_client.post(reverse(url_name), data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Canvas.objects.exists()


def test_oversized_and_nul_step_names_are_refused_and_nothing_changes(marketer_client, canvas):
    step = add_step(marketer_client, canvas, StepType.DELAY)
    url = reverse("canvas:step-edit", args=[canvas.pk, step.pk])
    for name in ("x" * 201, "bad\x00name"):
        response = marketer_client.post(url, {"name": name, "amount": "1", "unit": "hours"})
        assert response.status_code == 200
        assert "Check the fields below" in response.content.decode()
        step.refresh_from_db()
        assert step.name == ""


def test_unicode_names_are_kept_as_typed(marketer_client):
    response = marketer_client.post(reverse("canvas:create"), {"name": UNICODE, "tags": UNICODE})
    assert response.status_code == 302
    canvas = Canvas.objects.get()
    # Whitespace is folded (the zero-width space is not whitespace to str.split, and is kept).
    assert canvas.name == " ".join(UNICODE.split())
    assert canvas.name in marketer_client.get(reverse("canvas:list")).content.decode()


def test_nul_and_garbage_in_raw_post_fields_answer_cleanly(marketer_client, canvas):
    """Views that read request.POST/GET directly (not through a form) on hostile values:
    never a server error (PostgreSQL refuses NUL in text), nothing written."""
    step = add_step(marketer_client, canvas, StepType.AUDIENCE_SYNC)
    before = Step.objects.count()
    attempts = [
        ("post", reverse("users:user-list"), {"q": "a\x00b"}),
        ("post", reverse("users:user-list"), {"q": "x" * 100_000}),
        ("get", reverse("users:user-list"), {"before": "\x00"}),
        ("post", reverse("canvas:step-add", args=[canvas.pk]), {"step_type": "delay\x00"}),
        ("post", reverse("canvas:step-add", args=[canvas.pk]),
         {"step_type": "delay", "parent": "\x00", "branch": "yes\x00"}),
        ("post", reverse("canvas:step-add", args=[canvas.pk]),
         {"step_type": "delay", "parent": "9" * 40}),
        ("post", reverse("canvas:audience-sync", args=[canvas.pk, step.pk]),
         {"op": "save\x00", "audience": "local:\x00"}),
        ("post", reverse("canvas:audience-sync", args=[canvas.pk, step.pk]),
         {"op": "save", "audience": "tiktok:" + "9" * 40, "ad_account": "\x00"}),
        ("get", reverse("canvas:audience-options", args=[canvas.pk, step.pk]),
         {"audience_query": "a\x00b", "ad_account": "\x00", "audience": "local:\x00"}),
        ("post", reverse("canvas:audience", args=[canvas.pk]), {"remove_filter": "\x00"}),
        ("post", reverse("canvas:step-delete", args=[canvas.pk, step.pk]), {"keep": "\x00"}),
        ("get", reverse("notifications:list"), {"page": "\x00"}),
        ("get", reverse("canvas:list"), {"state": "\x00"}),
        ("get", reverse("partners:technology-partners"), {"q": "a\x00b"}),
    ]  # fmt: skip
    for method, url, data in attempts:
        response = getattr(marketer_client, method)(url, data)
        assert response.status_code < 500, (url, data, response.status_code)
    assert Step.objects.count() <= before


# Audience names TikTok would truncate (70 characters: longer names are cut to 67 + "...")


@pytest.fixture
def tiktok(settings, tiktok_sandbox, admin):
    point_at_sandbox(settings, tiktok_sandbox)
    return connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])


def create_audience(client, canvas, step, account, name):
    return client.post(
        reverse("canvas:audience-sync", args=[canvas.pk, step.pk]),
        {
            "op": "create_audience", "name": "Sync", "partner": "tiktok",
            "ad_account": account.pk, "audience_query": name, "action": "add",
            "match_fields": ["email"],
        },
    )  # fmt: skip


def test_an_audience_name_tiktok_would_cut_is_refused_with_its_length(
    marketer_client, canvas, tiktok
):
    step = add_step(marketer_client, canvas, StepType.AUDIENCE_SYNC)
    account = tiktok.ad_accounts.get()
    too_long = "é" * (MAX_AUDIENCE_NAME_LENGTH + 1)

    response = create_audience(marketer_client, canvas, step, account, too_long)

    body = response.content.decode()
    assert f"at most {MAX_AUDIENCE_NAME_LENGTH} characters; this one has 71" in body
    assert not TikTokAudience.objects.exists()


def test_a_70_character_unicode_and_html_audience_name_reaches_tiktok_whole(
    marketer_client, canvas, tiktok, tiktok_sandbox
):
    step = add_step(marketer_client, canvas, StepType.AUDIENCE_SYNC)
    account = tiktok.ad_accounts.get()
    name = ("<b>Ü🇺🇸</b> " + "日本" * 40)[:MAX_AUDIENCE_NAME_LENGTH]
    assert len(name) == MAX_AUDIENCE_NAME_LENGTH

    response = create_audience(marketer_client, canvas, step, account, name)
    assert response.status_code == 302, response.content.decode()[:500]
    draft = TikTokAudience.objects.get()
    assert draft.name == name
    page = marketer_client.get(reverse("canvas:audience-sync", args=[canvas.pk, step.pk]))
    assert "<b>Ü" not in page.content.decode() and "&lt;b&gt;Ü" in page.content.decode()

    from partners.tiktok.audiences import audience_create_on_tiktok

    created = audience_create_on_tiktok(audience_id=draft.pk)
    on_tiktok = tiktok_sandbox.audience(created.tiktok_audience_id)
    assert on_tiktok["name"] == name  # not cut to 67 + "..."


def test_profiles_keep_unicode_and_script_values_verbatim(app_group):
    profile = profile_track(app_group, external_id="u-ü", first_name=UNICODE, plan=XSS)
    stored = Profile.objects.get(pk=profile.pk)
    assert stored.first_name == UNICODE.strip()
    assert stored.custom_attributes["plan"] == XSS
