"""The "Set up Audience Sync" editor through HTTP, with the fake TikTok: partner, ad account,
the type-ahead over TikTok's audiences and this Canvas's drafts, Create Audience and its
checks, existing audiences with Add or Remove, and what the step card shows afterwards."""

import pytest
from django.urls import reverse

from canvas import services
from canvas.models import StepType
from partners.models import AdAccountStatus, AudienceStatus, TikTokAudience
from partners.tiktok.client import TikTokTransientError
from tests.factories import TikTokAdAccountFactory

from .conftest import ADVERTISER_ID

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def sync_step(marketer, canvas):
    return services.step_add(actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC)


def editor_url(step):
    return reverse("canvas:audience-sync", args=[step.canvas_id, step.pk])


def options_url(step):
    return reverse("canvas:audience-options", args=[step.canvas_id, step.pk])


def post(client, step, op, **data):
    data = {"op": op, "partner": "tiktok", **data}
    return client.post(editor_url(step), data, **HTMX)


def test_without_a_tiktok_connection_the_partner_is_disabled_with_a_link(
    marketer_client, sync_step
):
    page = marketer_client.get(editor_url(sync_step)).content.decode()

    assert '<h2 id="editor-heading">Set up Audience Sync</h2>' in page
    assert 'id="partner-tiktok" disabled' in page
    assert "TikTok is not connected." in page and 'href="/partners/tiktok/"' in page
    for other in ["Facebook", "Google", "Snapchat", "Pinterest", "LinkedIn", "Criteo"]:
        assert (
            f'<label for="partner-{other.lower()}">{other}</label> <span class="muted">Not available'
            in page
        )
    assert 'name="ad_account"' not in page


def test_only_connected_ad_accounts_are_offered(marketer_client, sync_step, ad_account, connection):
    TikTokAdAccountFactory(
        connection=connection, advertiser_id="999", name="Gone account",
        status=AdAccountStatus.DISCONNECTED,
    )  # fmt: skip

    page = marketer_client.get(editor_url(sync_step), **HTMX).content.decode()

    assert "Northwind US (7230000000000000101)" in page
    assert "Gone account" not in page


def test_the_type_ahead_lists_tiktok_audiences_and_this_canvases_drafts(
    marketer_client, marketer, canvas, sync_step, ad_account, fake_tiktok
):
    for i in range(150):
        fake_tiktok.add(ADVERTISER_ID, f"Lookalike {i:03d}")
    fake_tiktok.add(ADVERTISER_ID, "Cart abandoners (old)")
    other = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC, parent_id=sync_step.pk
    )
    services.audience_draft_create(
        actor=marketer, step=other, ad_account_id=ad_account.pk, name="Cart abandoners",
        match_fields=["email"],
    )  # fmt: skip

    def options(query):
        response = marketer_client.get(
            options_url(sync_step), {"ad_account": ad_account.pk, "audience_query": query}, **HTMX
        )
        assert response.status_code == 200
        return response.content.decode()

    cart = options("cart")
    assert "Cart abandoners (old)" in cart and "Cart abandoners <span" in cart
    assert "Draft in this Canvas" in cart
    # The typed text is no audience's name, so it is also offered as a new one...
    assert "Create new audience “cart”" in cart
    assert "Lookalike 149" in options("lookalike 149")

    fresh = options("VIP buyers")
    assert "Create new audience “VIP buyers”" in fresh
    # Preselected when nothing matches.
    assert 'value="new" id="audience-new" data-audience-mode="new" checked' in fresh
    # ...but a name that exists (in any case) is not.
    assert "Create new audience" not in options("cart abandoners")
    assert "Create new audience" not in options("LOOKALIKE 001")


def test_create_audience_saves_a_draft_and_the_card_shows_the_settings(
    marketer_client, canvas, sync_step, ad_account, fake_tiktok
):
    response = post(
        marketer_client, sync_step, "create_audience", name="Add to TikTok",
        ad_account=ad_account.pk, audience_query="Cart abandoners", audience="new",
        match_fields=["email", "phone"],
    )  # fmt: skip

    page = response.content.decode()
    assert 'data-testid="editor-notice">Audience “Cart abandoners” was saved as a draft.' in page
    draft = TikTokAudience.objects.get(name="Cart abandoners")
    assert (draft.status, draft.tiktok_audience_id, draft.ad_account) == (
        AudienceStatus.DRAFT, "", ad_account,
    )  # fmt: skip
    sync = sync_step.audience_sync
    sync.refresh_from_db()
    assert (sync.audience, sync.creates_audience, sync.action, sync.match_fields) == (
        draft, True, "add", ["email", "phone"],
    )  # fmt: skip
    # Nothing was created on TikTok: that happens at launch.
    assert fake_tiktok.created == []
    card = page.split(f'id="step-{sync_step.pk}"')[1].split("</article>")[0]
    for fact in [
        "TikTok",
        "Northwind US",
        "Cart abandoners",
        "Draft",
        "Add Users to Audience",
        "Email, Phone",
    ]:
        assert fact in card


@pytest.mark.parametrize(
    "name, fields, setup, expected",
    [
        (
            "x" * 71,
            ["email"],
            None,
            "TikTok audience names have at most 70 characters; this one has 71.",
        ),
        ("  ", ["email"], None, "Enter a name for the new audience."),
        ("Buyers", [], None, "Tick at least one field to match."),
        ("Buyers", ["email"], "taken", "already has an audience named “Buyers” on TikTok"),
        ("Buyers", ["email"], "full", "has 400 audiences on TikTok; TikTok allows at most 400"),
        (
            "Buyers",
            ["email"],
            "down",
            "TikTok could not be reached to list the ad account&#x27;s audiences",
        ),
    ],
)
def test_create_audience_checks_the_name_fields_and_the_400_cap_against_tiktok(
    marketer_client, sync_step, ad_account, fake_tiktok, name, fields, setup, expected
):
    if setup == "taken":
        fake_tiktok.add(ADVERTISER_ID, "buyers")
    elif setup == "full":
        for i in range(400):
            fake_tiktok.add(ADVERTISER_ID, f"A{i}")
    elif setup == "down":
        fake_tiktok.errors["list_audiences"] = [
            TikTokTransientError("/dmp/custom_audience/list/ timed out")
        ] * 2

    response = post(
        marketer_client, sync_step, "create_audience", ad_account=ad_account.pk,
        audience_query=name, audience="new", match_fields=fields,
    )  # fmt: skip

    page = response.content.decode()
    notice = page.split('data-testid="editor-notice">')[1].split("</div>")[0]
    assert expected in notice
    assert 'class="notice notice-error" role="alert"' in page
    assert not TikTokAudience.objects.exists()


def test_a_later_step_removes_users_from_the_draft_of_an_earlier_step(
    marketer_client, marketer, canvas, sync_step, ad_account, fake_tiktok
):
    draft = services.audience_draft_create(
        actor=marketer, step=sync_step, ad_account_id=ad_account.pk, name="Cart abandoners",
        match_fields=["email", "phone"],
    ).audience  # fmt: skip
    later = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC, parent_id=sync_step.pk
    )

    picked = post(
        marketer_client, later, "refresh", ad_account=ad_account.pk,
        audience_query="Cart", audience=f"local:{draft.pk}",
    ).content.decode()  # fmt: skip
    # The section for an existing audience or a draft is the one shown (and posted).
    assert '<fieldset class="sub-panel" data-audience-section="existing">' in picked
    assert '<fieldset class="sub-panel" data-audience-section="new" hidden disabled>' in picked
    assert "Remove from the Audience" in picked

    post(
        marketer_client, later, "save", ad_account=ad_account.pk, audience_query="Cart",
        audience=f"local:{draft.pk}", action="remove", match_fields=["email"],
    )  # fmt: skip

    sync = later.audience_sync
    sync.refresh_from_db()
    assert (sync.audience, sync.creates_audience, sync.action, sync.match_fields) == (
        draft, False, "remove", ["email"],
    )  # fmt: skip


def test_an_existing_tiktok_audience_is_checked_with_tiktok_and_remembered(
    marketer_client, sync_step, ad_account, fake_tiktok
):
    existing = fake_tiktok.add(ADVERTISER_ID, "Newsletter readers")

    post(
        marketer_client, sync_step, "save", ad_account=ad_account.pk,
        audience_query="News", audience=f"tiktok:{existing.audience_id}", action="add",
        match_fields=["gaid", "email"],
    )  # fmt: skip

    audience = TikTokAudience.objects.get()
    assert (audience.name, audience.tiktok_audience_id, audience.status) == (
        "Newsletter readers", existing.audience_id, AudienceStatus.CREATED,
    )  # fmt: skip
    sync_step.audience_sync.refresh_from_db()
    # Stored in TikTok's id_schema order whatever the order ticked.
    assert sync_step.audience_sync.match_fields == ["email", "gaid"]

    gone = post(
        marketer_client, sync_step, "save", ad_account=ad_account.pk,
        audience="tiktok:123456", action="add", match_fields=["email"],
    ).content.decode()  # fmt: skip
    assert "That audience no longer exists on TikTok." in gone


def test_the_creating_step_cannot_remove_from_its_own_draft(
    marketer_client, marketer, sync_step, ad_account, fake_tiktok
):
    draft = services.audience_draft_create(
        actor=marketer, step=sync_step, ad_account_id=ad_account.pk, name="Mine",
        match_fields=["email"],
    ).audience  # fmt: skip

    page = post(
        marketer_client, sync_step, "save", ad_account=ad_account.pk,
        audience=f"local:{draft.pk}", action="remove", match_fields=["email"],
    ).content.decode()  # fmt: skip

    assert "This step creates the audience, so it adds users to it" in page
    sync_step.audience_sync.refresh_from_db()
    assert sync_step.audience_sync.action == "add"


def test_choosing_another_audience_drops_the_unused_draft(
    marketer_client, marketer, sync_step, ad_account, fake_tiktok
):
    services.audience_draft_create(
        actor=marketer, step=sync_step, ad_account_id=ad_account.pk, name="First idea",
        match_fields=["email"],
    )  # fmt: skip
    existing = fake_tiktok.add(ADVERTISER_ID, "Better idea")

    post(
        marketer_client, sync_step, "save", ad_account=ad_account.pk,
        audience=f"tiktok:{existing.audience_id}", action="add", match_fields=["email"],
    )  # fmt: skip

    assert list(TikTokAudience.objects.values_list("name", flat=True)) == ["Better idea"]


def test_the_editor_works_as_plain_form_posts_with_the_notice_after_redirect(
    marketer_client, sync_step, ad_account, fake_tiktok
):
    search = marketer_client.post(
        editor_url(sync_step),
        {"op": "refresh", "ad_account": ad_account.pk, "audience_query": "Winter sale"},
    )
    assert search.status_code == 200 and "<html" in search.content.decode()
    assert "Create new audience “Winter sale”" in search.content.decode()

    created = marketer_client.post(
        editor_url(sync_step),
        {"op": "create_audience", "ad_account": ad_account.pk, "audience_query": "Winter sale",
         "audience": "new", "match_fields": ["idfa"]},
        follow=True,
    )  # fmt: skip
    assert created.redirect_chain[-1][0] == editor_url(sync_step)
    assert "Audience “Winter sale” was saved as a draft." in created.content.decode()
    # The notice is shown once.
    assert "was saved as a draft" not in marketer_client.get(editor_url(sync_step)).content.decode()
