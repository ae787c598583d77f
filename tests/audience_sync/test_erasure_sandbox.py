"""Deleting a user through the REST API takes them out of the TikTok audience: add, sync,
delete, flush, against the sandbox over HTTP (docs/ARCHITECTURE.md D16)."""

import pytest

from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceMember, AudienceSyncItem
from canvas.models import MatchField
from tests.factories import rest_api_key
from tests.plugins.canvases import T0, enter, members
from users.identifiers import sha256_hex

pytestmark = pytest.mark.django_db


def test_a_user_deleted_through_the_api_leaves_the_tiktok_audience(
    client, app_group, tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas,
    make_profiles,
):  # fmt: skip
    sync_to_sandbox([MatchField.EMAIL, MatchField.PHONE])
    profiles = make_profiles(
        {"external_id": "ana", "email": "ana@example.com", "phone": "+33612345678"},
        {"external_id": "bo", "email": "bo@example.com"},
    )
    enter(active_canvas, profiles.values())
    audience_sync_flush(now=T0)
    audience = sandbox_tiktok[1]
    assert members(tiktok_sandbox, audience) == {
        "EMAIL_SHA256": {sha256_hex("ana@example.com"), sha256_hex("bo@example.com")},
        "PHONE_SHA256": {sha256_hex("+33612345678")},
    }
    _, key = rest_api_key(app_group=app_group, permissions=["users.delete"])

    response = client.post(
        "/api/users/delete",
        {"external_ids": ["ana"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 201 and response.json()["deleted"] == 1
    audience_sync_flush()

    # TikTok no longer holds Ana's hashes; Bo is untouched.
    assert members(tiktok_sandbox, audience) == {"EMAIL_SHA256": {sha256_hex("bo@example.com")}}
    (delete,) = [r for r in tiktok_sandbox.requests("/segment/mapping/") if r["action"] == "delete"]
    assert (delete["code"], delete["rows"], delete["ids"]) == (0, 1, 2)
    # Nothing of Ana's identifiers is left on our side either.
    assert not AudienceSyncItem.objects.exists()
    assert list(AudienceMember.objects.values_list("profile_id", flat=True)) == [profiles["bo"].pk]


def _post(client, key, path, body):
    return client.post(
        path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def test_a_user_who_changed_email_since_the_sync_leaves_with_the_email_tiktok_received(
    client, app_group, tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas,
    make_profiles,
):  # fmt: skip
    """The membership keeps no hash while the profile holds the ones sent; an email changed
    through /users/track after the sync is still taken back, and the new one, which TikTok
    never received from us, is not sent."""
    sync_to_sandbox([MatchField.EMAIL, MatchField.PHONE])
    profiles = make_profiles(
        {"external_id": "ana", "email": "ana@example.com", "phone": "+33612345678"}
    )
    enter(active_canvas, profiles.values())
    audience_sync_flush(now=T0)
    audience = sandbox_tiktok[1]
    _, key = rest_api_key(app_group=app_group, permissions=["users.track", "users.delete"])

    response = _post(client, key, "/api/users/track", {
        "attributes": [{"external_id": "ana", "email": "ana.new@example.com"}],
    })  # fmt: skip
    assert response.status_code == 201, response.json()
    (member,) = AudienceMember.objects.all()
    assert (member.schema, member.email_sha256, member.phone_sha256) == (
        0, sha256_hex("ana@example.com"), sha256_hex("+33612345678"),
    )  # fmt: skip
    response = _post(client, key, "/api/users/delete", {"external_ids": ["ana"]})
    assert response.status_code == 201 and response.json()["deleted"] == 1
    audience_sync_flush()

    assert members(tiktok_sandbox, audience) == {}
    # One delete, one row: the email and phone TikTok received (the new email is not sent).
    (delete,) = [r for r in tiktok_sandbox.requests("/segment/mapping/") if r["action"] == "delete"]
    assert (delete["code"], delete["rows"], delete["ids"]) == (0, 1, 2)
    assert not AudienceSyncItem.objects.exists() and not AudienceMember.objects.exists()
