"""POST /api/canvas/trigger/send over HTTP against a live server, with Braze-shaped payloads."""

import pytest

from appgroups.models import ApiPermission
from canvas.models import Canvas, CanvasState, EntryType, StepType
from journeys.models import Entry
from tests.api.conftest import Api
from tests.factories import profile_track, rest_api_key
from tests.plugins.canvases import add_step
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, app_group):
    _, secret = rest_api_key(app_group=app_group, permissions=[ApiPermission.CANVAS_TRIGGER_SEND])
    return Api(f"{live_server.url}/api", secret)


@pytest.fixture
def canvas(active_canvas):
    add_step(active_canvas, StepType.MESSAGE)
    return active_canvas


def trigger(api, **body):
    return api.post("/canvas/trigger/send", json=body)


def entered(canvas):
    return {
        (e.profile.external_id, str(e.properties) if e.properties else None)
        for e in Entry.objects.filter(canvas=canvas).select_related("profile")
    }


def test_recipients_enter_with_their_entry_properties(api, canvas, make_profiles):
    make_profiles({"external_id": "ana"}, {"external_id": "bo"})

    response = trigger(
        api,
        canvas_id=str(canvas.pk),
        canvas_entry_properties={"product": "shoes", "size": 42},
        recipients=[
            {"external_user_id": "ana", "canvas_entry_properties": {"size": 39}},
            {"external_user_id": "bo", "context": {"coupon": "X"}},
            {"external_user_id": "nobody"},  # unknown: skipped, as Braze does
        ],
    )

    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "success"
    assert len(body["dispatch_id"]) == 32
    entries = {e.profile.external_id: e for e in Entry.objects.select_related("profile")}
    assert set(entries) == {"ana", "bo"}
    assert entries["ana"].properties == {"product": "shoes", "size": 39}
    assert entries["bo"].properties == {"product": "shoes", "size": 42, "coupon": "X"}
    assert entries["ana"].dispatch_id == body["dispatch_id"]
    assert "X-RateLimit-Remaining" in response.headers
    canvas.refresh_from_db()
    assert canvas.total_entries == 2


def test_send_to_existing_only_false_creates_the_user_from_attributes(api, canvas):
    response = trigger(
        api,
        canvas_id=canvas.pk,
        recipients=[
            {
                "external_user_id": "new-user",
                "send_to_existing_only": False,
                "attributes": {"email": "New@Example.com", "first_name": "Nia"},
            }
        ],
    )

    assert response.status_code == 201
    profile = Profile.objects.get(external_id="new-user")
    assert (profile.first_name, profile.email_sha256 is not None) == ("Nia", True)
    assert Entry.objects.filter(profile=profile, canvas=canvas).exists()


def test_recipients_must_match_the_target_audience(api, canvas, make_profiles):
    canvas.audience_filters = [{"field": "has_email", "op": "is", "value": True}]
    canvas.save()
    make_profiles({"external_id": "mail", "email": "m@example.com"}, {"external_id": "nomail"})

    response = trigger(
        api, canvas_id=str(canvas.pk),
        recipients=[{"external_user_id": "mail"}, {"external_user_id": "nomail"}],
    )  # fmt: skip

    assert response.status_code == 201
    assert entered(canvas) == {("mail", None)}


def test_broadcast_enters_the_whole_target_audience(api, canvas, make_profiles):
    make_profiles(*[{"external_id": f"u{i}"} for i in range(5)])

    response = trigger(api, canvas_id=str(canvas.pk), broadcast=True)

    assert response.status_code == 201
    assert Entry.objects.filter(canvas=canvas).count() == 5


def test_a_stopped_canvas_answers_with_a_notice_and_admits_no_one(api, canvas, make_profiles):
    make_profiles({"external_id": "ana"})
    Canvas.objects.filter(pk=canvas.pk).update(state=CanvasState.STOPPED)

    response = trigger(api, canvas_id=str(canvas.pk), recipients=[{"external_user_id": "ana"}])

    assert response.status_code == 201
    assert response.json()["notice"].startswith("The Canvas is paused.")
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "'canvas_id' is required"),
        ({"canvas_id": "CANVAS", "recipients": [{"external_user_id": "a"}]}, 404, "No Canvas"),
        ({"canvas_id": "{id}"}, 400, "'recipients' is required"),
        (
            {"canvas_id": "{id}", "broadcast": True, "recipients": [{"external_user_id": "a"}]},
            400, "cannot be combined",
        ),
        ({"canvas_id": "{id}", "broadcast": "yes"}, 400, "'broadcast' must be true or false"),
        ({"canvas_id": "{id}", "recipients": []}, 400, "must not be empty"),
        ({"canvas_id": "{id}", "recipients": {"a": 1}}, 400, "must be an array"),
        (
            {"canvas_id": "{id}", "recipients": [{"external_user_id": f"u{i}"} for i in range(51)]},
            400, "more than 50",
        ),
        (
            {"canvas_id": "{id}", "recipients": [{"external_user_id": "a"}],
             "canvas_entry_properties": {"x": "y" * 60_000}},
            400, "larger than 50 KB",
        ),
        (
            {"canvas_id": "{id}", "recipients": [{"external_user_id": "a"}],
             "context": {}, "canvas_entry_properties": {}},
            400, "not both",
        ),
        ({"canvas_id": ["x"], "recipients": [{"external_user_id": "a"}]}, 400, "must be a string"),
    ],
)  # fmt: skip
def test_bad_requests_answer_in_brazes_envelope_and_write_nothing(
    api, canvas, body, status, message
):
    body = {k: (str(canvas.pk) if v == "{id}" else v) for k, v in body.items()}

    response = trigger(api, **body)

    assert response.status_code == status
    assert message in response.json()["message"]
    assert not Entry.objects.exists()


def test_bad_recipients_are_listed_by_index_and_nobody_enters(api, canvas, make_profiles):
    make_profiles({"external_id": "ok"})

    response = trigger(
        api,
        canvas_id=str(canvas.pk),
        recipients=[
            {"external_user_id": "ok"},
            {},
            {"user_alias": {"alias_name": "x", "alias_label": "y"}, "send_to_existing_only": False,
             "attributes": {"first_name": "X"}},
            {"external_user_id": "z", "send_to_existing_only": False},
        ],
    )  # fmt: skip

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Invalid recipients"
    assert [e["index"] for e in body["errors"]] == [1, 2, 3]
    assert not Entry.objects.exists()
    assert not Profile.objects.filter(alias_name="x").exists()


def test_canvases_of_other_app_groups_and_drafts_and_scheduled_ones_are_refused(
    api, canvas, other_app_group
):
    other = Canvas.objects.create(
        app_group=other_app_group, name="Theirs", state=CanvasState.ACTIVE
    )
    draft = Canvas.objects.create(app_group=canvas.app_group, name="Draft")
    scheduled = Canvas.objects.create(
        app_group=canvas.app_group, name="Sched", state=CanvasState.ACTIVE,
        entry_type=EntryType.SCHEDULED,
    )  # fmt: skip
    recipients = [{"external_user_id": "a"}]

    assert trigger(api, canvas_id=str(other.pk), recipients=recipients).status_code == 404
    assert "draft" in trigger(api, canvas_id=str(draft.pk), recipients=recipients).json()["message"]
    assert (
        "not API-triggered"
        in trigger(api, canvas_id=str(scheduled.pk), recipients=recipients).json()["message"]
    )


def test_keys_need_the_canvas_trigger_send_permission(live_server, app_group, canvas):
    _, secret = rest_api_key(app_group=app_group, permissions=[ApiPermission.USERS_TRACK])
    api = Api(f"{live_server.url}/api", secret)
    body = {"canvas_id": str(canvas.pk), "recipients": [{"external_user_id": "a"}]}

    assert api.post("/canvas/trigger/send", json=body).status_code == 403
    assert api.post("/canvas/trigger/send", json=body, key=None).status_code == 401


def test_the_endpoint_is_in_the_openapi_document(api):
    document = api.request("GET", "/openapi.json").json()

    operation = document["paths"]["/canvas/trigger/send"]["post"]
    assert operation["operationId"] == "canvasTriggerSend"
    assert "CanvasTriggerRequest" in document["components"]["schemas"]


@pytest.mark.parametrize("canvas_id", ["²", "1" * 40, -5, 0, "12a"])
def test_odd_canvas_ids_answer_404(api, canvas, canvas_id):
    response = trigger(api, canvas_id=canvas_id, recipients=[{"external_user_id": "a"}])

    assert response.status_code == 404
    assert response.json()["message"].startswith("No Canvas")


def test_recipients_named_by_user_alias_enter(api, canvas, app_group):
    alias = {"alias_name": "device-7", "alias_label": "ios"}
    profile = profile_track(app_group, user_alias=alias, _update_existing_only=False)

    response = trigger(
        api,
        canvas_id=str(canvas.pk),
        recipients=[
            {"user_alias": alias, "context": {"coupon": "A"}},
            {"user_alias": {"alias_name": "nobody", "alias_label": "ios"}},
        ],
    )

    assert response.status_code == 201, response.text
    [entry] = Entry.objects.filter(canvas=canvas)
    assert (entry.profile_id, entry.properties) == (profile.pk, {"coupon": "A"})


def test_a_trigger_body_must_be_an_object(api, canvas):
    response = api.post("/canvas/trigger/send", json=[{"canvas_id": str(canvas.pk)}])

    assert response.status_code == 400
    assert response.json() == {"message": "Request body must be a JSON object", "errors": []}


@pytest.mark.parametrize(
    "smuggled",
    [{"external_id": "bob"}, {"user_alias": {"alias_name": "b", "alias_label": "x"}},
     {"braze_id": "000000000000000000000001"}],
)  # fmt: skip
def test_an_identifier_inside_attributes_cannot_rename_another_profile(
    api, canvas, make_profiles, smuggled
):
    make_profiles(
        {"external_id": "alice", "first_name": "Alice"},
        {"external_id": "bob", "first_name": "Bob"},
    )

    response = trigger(
        api,
        canvas_id=str(canvas.pk),
        recipients=[
            {"external_user_id": "alice", "attributes": {**smuggled, "first_name": "Mallory"}},
        ],
    )

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Invalid recipients"
    assert body["errors"] == [
        {
            "type": "recipients[0]: 'attributes' may not hold external_id, user_alias or "
            "braze_id: the recipient's external_user_id or user_alias names the user",
            "input_array": "recipients",
            "index": 0,
        }
    ]
    # Nothing was written for the recipient, and nobody entered.
    names = dict(Profile.objects.values_list("external_id", "first_name"))
    assert names == {"alice": "Alice", "bob": "Bob"}
    assert not Entry.objects.exists()
