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
    enter(active_canvas, make_profiles(
        {"external_id": "ana", "email": "ana@example.com", "phone": "+33612345678"},
        {"external_id": "bo", "email": "bo@example.com"},
    ).values())  # fmt: skip
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
    assert list(AudienceMember.objects.values_list("email_sha256", flat=True)) == [
        sha256_hex("bo@example.com")
    ]
