"""Page views do not spend the sync's TikTok budget (security issue 5, item 5): the Summary's
launch check and the Audience Sync editor reuse an ad account's audience list for
TIKTOK_AUDIENCE_CACHE_SECONDS, Viewers never make TikTok calls, creating an audience drops the
list, and Launch always asks TikTok. TikTok is the in-memory fake here, counting its calls;
test_tiktok_page_budget_sandbox.py measures the flush's rate against the sandbox."""

import pytest
from django.test import Client
from django.urls import reverse

from canvas import services
from canvas.models import Canvas, CanvasState, StepType
from partners.models import AudienceStatus, TikTokAudience
from partners.tiktok import audiences
from tests.factories import CanvasFactory

from .conftest import ADVERTISER_ID

NOT_CHECKED = "TikTok's audiences were not checked"


def url(name, *args):
    return reverse(f"canvas:{name}", args=args)


def client_of(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.fixture
def existing(fake_tiktok):
    return fake_tiktok.add(ADVERTISER_ID, "Newsletter readers")


@pytest.fixture
def live_canvas(marketer, canvas, ad_account, existing):
    """An Active Canvas whose one step adds users to an existing TikTok audience."""
    step = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC, name="Readers"
    )
    services.audience_sync_step_save(
        actor=marketer, step=step, ad_account_id=ad_account.pk,
        audience_choice=f"tiktok:{existing.audience_id}", action="add", match_fields=["email"],
    )  # fmt: skip
    Canvas.objects.filter(pk=canvas.pk).update(state=CanvasState.ACTIVE)
    canvas.refresh_from_db()
    canvas.sync_step = step
    return canvas


def editor(client, canvas):
    return client.get(url("audience-sync", canvas.pk, canvas.sync_step.pk)).content.decode()


def options(client, canvas, ad_account, query=""):
    params = {"ad_account": ad_account.pk, "audience_query": query}
    return client.get(url("audience-options", canvas.pk, canvas.sync_step.pk), params)


def test_a_viewers_page_views_never_call_tiktok_and_say_nothing_was_checked(
    viewer, live_canvas, fake_tiktok
):
    viewer_client = client_of(viewer)

    summary = viewer_client.get(url("summary", live_canvas.pk)).content.decode()
    page = editor(viewer_client, live_canvas)

    assert fake_tiktok.calls["list_audiences"] == 0
    assert NOT_CHECKED in summary and "a Marketer's visit or a launch checks them" in summary
    assert NOT_CHECKED in page


def test_viewers_read_what_a_marketers_visit_found(marketer, viewer, live_canvas, fake_tiktok):
    fake_tiktok.audiences[ADVERTISER_ID].clear()  # deleted on TikTok
    marketer_summary = client_of(marketer).get(url("summary", live_canvas.pk)).content.decode()
    assert fake_tiktok.calls["list_audiences"] == 1
    assert "Audience Does Not Exist: “Newsletter readers”" in marketer_summary

    viewer_summary = client_of(viewer).get(url("summary", live_canvas.pk)).content.decode()

    assert fake_tiktok.calls["list_audiences"] == 1
    assert "Audience Does Not Exist: “Newsletter readers”" in viewer_summary
    assert NOT_CHECKED not in viewer_summary
    assert "TikTok's audiences as checked" in viewer_summary


def test_marketers_reloading_the_summary_and_the_editor_ask_tiktok_once_per_ad_account(
    settings, marketer, live_canvas, ad_account, fake_tiktok
):
    settings.TIKTOK_AUDIENCE_CACHE_SECONDS = 60
    marketer_client = client_of(marketer)

    for _ in range(10):
        assert marketer_client.get(url("summary", live_canvas.pk)).status_code == 200
        assert "Newsletter readers" in editor(marketer_client, live_canvas)
        answer = options(marketer_client, live_canvas, ad_account, "news")
        assert answer.status_code == 200 and "Newsletter readers" in answer.content.decode()

    assert fake_tiktok.calls["list_audiences"] == 1

    # Past the cache's lifetime, a Marketer's visit asks again.
    settings.TIKTOK_AUDIENCE_CACHE_SECONDS = 0
    marketer_client.get(url("summary", live_canvas.pk))
    assert fake_tiktok.calls["list_audiences"] == 2


def test_creating_an_audience_drops_the_ad_accounts_cached_list(
    marketer, live_canvas, ad_account, fake_tiktok
):
    marketer_client = client_of(marketer)
    before = options(marketer_client, live_canvas, ad_account).content.decode()
    options(marketer_client, live_canvas, ad_account)
    assert "Cart abandoners" not in before
    assert fake_tiktok.calls["list_audiences"] == 1

    # Another Canvas launches and creates its draft on TikTok.
    other = CanvasFactory(app_group=live_canvas.app_group, name="Other", created_by=marketer.user)
    step = services.step_add(actor=marketer, canvas=other, step_type=StepType.AUDIENCE_SYNC)
    services.audience_draft_create(
        actor=marketer, step=step, ad_account_id=ad_account.pk, name="Cart abandoners",
        match_fields=["email"],
    )  # fmt: skip
    calls_before_launch = fake_tiktok.calls["list_audiences"]
    marketer_client.post(url("launch", other.pk))
    assert fake_tiktok.created == [(ADVERTISER_ID, "Cart abandoners")]
    assert fake_tiktok.calls["list_audiences"] > calls_before_launch  # the launch asked TikTok

    after = options(marketer_client, live_canvas, ad_account).content.decode()

    assert "Cart abandoners" in after


def test_launch_asks_tiktok_even_when_the_list_is_cached(marketer, live_canvas, fake_tiktok):
    Canvas.objects.filter(pk=live_canvas.pk).update(state=CanvasState.STOPPED)
    marketer_client = client_of(marketer)
    summary = marketer_client.get(url("summary", live_canvas.pk)).content.decode()
    assert "Every launch check passed." in summary
    fake_tiktok.audiences[ADVERTISER_ID].clear()  # deleted on TikTok since
    # The Summary reuses the list for TIKTOK_AUDIENCE_CACHE_SECONDS...
    marketer_client.get(url("summary", live_canvas.pk))
    assert fake_tiktok.calls["list_audiences"] == 1

    # ...but resuming (or launching) always asks TikTok.
    response = marketer_client.post(url("resume", live_canvas.pk), follow=True)

    page = response.content.decode()
    assert "Audience Does Not Exist: “Newsletter readers”" in page
    assert fake_tiktok.calls["list_audiences"] == 2
    live_canvas.refresh_from_db()
    assert live_canvas.state == CanvasState.STOPPED


def test_an_audience_created_after_the_cached_list_is_not_reported_missing(
    marketer, live_canvas, ad_account, fake_tiktok
):
    """Another machine's cache (REDIS_URL unset) may hold a list older than an audience a
    launch created there: the Summary does not call that audience deleted."""
    marketer_client = client_of(marketer)
    marketer_client.get(url("summary", live_canvas.pk))  # cached: only "Newsletter readers"
    created = fake_tiktok.add(ADVERTISER_ID, "Made elsewhere")
    step = services.step_add(
        actor=marketer, canvas=live_canvas, step_type=StepType.AUDIENCE_SYNC,
        parent_id=live_canvas.sync_step.pk, name="Elsewhere",
    )  # fmt: skip
    services.audience_sync_step_save(
        actor=marketer, step=step, ad_account_id=ad_account.pk,
        audience_choice=f"tiktok:{created.audience_id}", action="add", match_fields=["email"],
    )  # fmt: skip
    assert TikTokAudience.objects.get(tiktok_audience_id=created.audience_id).status == (
        AudienceStatus.CREATED
    )
    calls = fake_tiktok.calls["list_audiences"]

    summary = marketer_client.get(url("summary", live_canvas.pk)).content.decode()

    assert fake_tiktok.calls["list_audiences"] == calls  # still the cached list
    assert "Audience Does Not Exist" not in summary


def test_the_cache_is_shared_by_every_process(settings):
    from django.core.cache import caches

    backend = type(caches["default"]).__module__
    if settings.REDIS_URL:
        assert backend == "django.core.cache.backends.redis"
    else:
        assert backend == "django.core.cache.backends.filebased"
    assert hasattr(audiences, "tiktok_audiences_forget")
