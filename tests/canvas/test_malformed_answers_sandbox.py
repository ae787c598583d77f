"""Launch, Create Audience and the audience list against the TikTok sandbox when TikTok's
answers are malformed (docs/SANDBOX.md "Fault injection"): the person gets the usual "TikTok
could not be reached…" words, never a 500; nothing malformed is stored; the list follows at
most MAX_LIST_PAGES pages."""

from html import unescape

import pytest
import requests
from django.core.exceptions import ValidationError
from django.urls import reverse

from canvas import launch, services
from canvas.audience_picker import audience_options
from canvas.models import CanvasState, StepType
from partners.models import AudienceStatus, TikTokAudience
from partners.tiktok import client as tiktok

from .conftest import sandbox_audiences

LIST = "/dmp/custom_audience/list/"
CREATE = "/segment/audience/"


@pytest.fixture
def ad_account(sandbox_connection):
    return sandbox_connection.ad_accounts.get()


@pytest.fixture
def sync_step(marketer, canvas):
    return services.step_add(actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC)


@pytest.fixture
def one_draft(marketer, canvas, ad_account, sync_step):
    services.audience_draft_create(
        actor=marketer, step=sync_step, ad_account_id=ad_account.pk, name="Cart abandoners",
        match_fields=["email"],
    )  # fmt: skip
    return canvas


@pytest.fixture
def list_pages(monkeypatch):
    """The pages of the audience list the product asks for; more than a few hundred is a
    runaway (an endless total_page followed), stopped here rather than after a million."""
    pages = []
    real = requests.Session.request

    def counting(self, method, url, *args, **kwargs):
        if url.endswith(LIST):
            pages.append((kwargs.get("params") or {}).get("page"))
            assert len(pages) <= 300, "the client followed more than 300 pages"
        return real(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", counting)
    return pages


def page_text(response) -> str:
    return unescape(response.content.decode())


def test_launch_refuses_an_audience_id_that_is_not_digits_and_finds_the_audience_on_retry(
    marketer_client, one_draft, ad_account, tiktok_sandbox
):
    # TikTok creates the audience, but the id in its answer would break out of a JSON string.
    tiktok_sandbox.set_faults(endpoints=[CREATE], script=["bad_ids"])

    response = marketer_client.post(reverse("canvas:launch", args=[one_draft.pk]), follow=True)

    assert response.status_code == 200
    text = page_text(response)
    assert "TikTok could not be reached to create the audience “Cart abandoners”" in text
    assert "TikTok's answer is malformed (data.audience_id is not an id of 1 to 32 digits" in text
    draft = TikTokAudience.objects.get(name="Cart abandoners")
    assert (draft.status, draft.tiktok_audience_id) == (AudienceStatus.FAILED, "")
    one_draft.refresh_from_db()
    assert one_draft.state == CanvasState.DRAFT

    marketer_client.post(reverse("canvas:launch", args=[one_draft.pk]))

    # The retry looks the name up first: the audience TikTok made is recorded, not made twice.
    on_tiktok = sandbox_audiences(tiktok_sandbox, ad_account.advertiser_id)
    assert [a["name"] for a in on_tiktok] == ["Cart abandoners"]
    draft.refresh_from_db()
    assert (draft.status, draft.tiktok_audience_id) == (
        AudienceStatus.CREATED, on_tiktok[0]["audience_id"],
    )  # fmt: skip
    one_draft.refresh_from_db()
    assert one_draft.state == CanvasState.ACTIVE


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("data_not_object", "data is an array, not an object"),
        ("bad_ids", "data.list[0].audience_id is not an id of 1 to 32 digits"),
        ("endless_pages", "page_info.total_page is 1000000, more than the"),
    ],
)
def test_a_malformed_audience_list_refuses_launch_with_words(
    marketer_client, one_draft, ad_account, tiktok_sandbox, list_pages, fault, words
):
    token = ad_account.connection.access_token
    tiktok_sandbox.create_audience(token, ad_account.advertiser_id, "Already there")
    tiktok_sandbox.control("POST", "/stats/reset")  # empties the request log
    tiktok_sandbox.set_faults(endpoints=[LIST], probabilities={fault: 1.0})

    problems = [p.message for p in launch.canvas_launch_problems(canvas=one_draft)]
    launched = marketer_client.post(reverse("canvas:launch", args=[one_draft.pk]), follow=True)

    assert len(problems) == 1
    assert problems[0].startswith("TikTok could not be reached to check the audiences (")
    assert words in problems[0]
    assert launched.status_code == 200
    assert "The Canvas was not launched: 1 problem to fix." in page_text(launched)
    one_draft.refresh_from_db()
    assert one_draft.state == CanvasState.DRAFT
    assert tiktok_sandbox.requests(CREATE) == []
    assert set(list_pages) == {1}  # each look stopped at the first page


@pytest.mark.parametrize("fault", ["data_not_object", "bad_ids", "endless_pages"])
def test_create_audience_refuses_with_words_when_the_list_is_malformed(
    marketer_client, sync_step, ad_account, tiktok_sandbox, list_pages, fault
):
    token = ad_account.connection.access_token
    tiktok_sandbox.create_audience(token, ad_account.advertiser_id, "Already there")
    tiktok_sandbox.set_faults(endpoints=[LIST], probabilities={fault: 1.0})

    response = marketer_client.post(
        reverse("canvas:audience-sync", args=[sync_step.canvas_id, sync_step.pk]),
        {
            "op": "create_audience", "partner": "tiktok", "ad_account": ad_account.pk,
            "audience_query": "Buyers", "audience": "new", "match_fields": ["email"],
        },
        HTTP_HX_REQUEST="true",
    )  # fmt: skip

    assert response.status_code == 200
    text = page_text(response)
    assert "TikTok could not be reached to list the ad account's audiences (" in text
    assert "TikTok's answer is malformed" in text
    assert not TikTokAudience.objects.filter(name="Buyers").exists()


def test_create_audience_on_a_live_canvas_refuses_an_id_that_is_not_digits(
    marketer, one_draft, sync_step, ad_account, tiktok_sandbox
):
    launch.canvas_launch(actor=marketer, canvas=one_draft)
    later = services.step_add(
        actor=marketer, canvas=one_draft, step_type=StepType.AUDIENCE_SYNC, parent_id=sync_step.pk,
        branch="next",
    )  # fmt: skip
    tiktok_sandbox.set_faults(endpoints=[CREATE], script=["bad_ids"])

    with pytest.raises(ValidationError) as refused:
        services.audience_draft_create(
            actor=marketer, step=later, ad_account_id=ad_account.pk, name="Live",
            match_fields=["email"],
        )  # fmt: skip

    assert "TikTok could not be reached to create the audience “Live”" in str(refused.value)
    draft = TikTokAudience.objects.get(name="Live")
    assert (draft.status, draft.tiktok_audience_id) == (AudienceStatus.FAILED, "")
    assert "TikTok's answer is malformed" in draft.error_message


def test_the_audience_list_stops_at_the_page_bound(
    canvas, ad_account, sandbox_connection, tiktok_sandbox, list_pages
):
    token = sandbox_connection.access_token
    tiktok_sandbox.create_audience(token, ad_account.advertiser_id, "Segment A")
    tiktok_sandbox.set_faults(endpoints=[LIST], probabilities={"endless_pages": 1.0})

    options = audience_options(canvas=canvas, ad_account=ad_account, query="")

    assert list_pages == [1]  # total_page 1,000,000 is not believed: nothing more is asked
    assert options.existing == []
    assert options.error.startswith("TikTok could not be reached to list the audiences (")
    assert f"more than the {tiktok.MAX_LIST_PAGES} pages the client reads" in options.error
