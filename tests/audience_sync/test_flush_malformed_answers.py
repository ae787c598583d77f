"""The flush against the TikTok sandbox when TikTok's answer to /segment/mapping/ is malformed
(docs/SANDBOX.md "Fault injection"): a transient error on the step, the users kept and sent
again after the transient backoff, never a crashed flush. And an audience id that is not
digits cannot change the mapping body it is pasted into."""

from datetime import timedelta

import pytest

from analytics.models import AudienceSyncBatch, BatchOutcome, StepStats
from audience_sync.flush import RETRY_TRANSIENT, audience_sync_flush
from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField
from tests.plugins.canvases import T0, enter, members
from users.identifiers import sha256_hex

pytestmark = pytest.mark.django_db


# Each answered code 0 to a request the sandbox applied: the client used to take it as sent.
@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("data_not_object", "data is an array, not an object"),
        ("huge_body", "larger than 4 MiB, not read"),
    ],
)
def test_a_malformed_answer_is_a_transient_error_on_the_step_and_retried(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles, fault, words
):
    step = sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    tiktok_sandbox.set_faults(script=[fault])

    report = audience_sync_flush(now=T0)

    assert (report.requests, report.failed_requests, report.synced) == (1, 1, 0)
    stats = StepStats.objects.get(step=step)
    assert (stats.synced, stats.errored, stats.pending) == (0, 0, 1)
    assert stats.last_error_code is None
    assert stats.last_error_message == (
        f"/segment/mapping/: TikTok's answer is malformed ({words})"
    )
    item = AudienceSyncItem.objects.get()
    assert item.attempts == 1
    # The transient backoff (seconds), not the one for TikTok's refusals (minutes).
    assert item.next_attempt_at <= T0 + timedelta(seconds=RETRY_TRANSIENT[0])
    batch = AudienceSyncBatch.objects.get()
    assert (batch.outcome, batch.message) == (BatchOutcome.RETRY, stats.last_error_message)

    again = audience_sync_flush(now=T0 + timedelta(minutes=1))

    assert (again.synced, again.failed_requests) == (1, 0)
    stats.refresh_from_db()
    assert (stats.synced, stats.errored, stats.pending, stats.last_error_message) == (1, 0, 0, "")
    assert members(tiktok_sandbox, sandbox_tiktok[1]) == {
        "EMAIL_SHA256": {sha256_hex("a@example.com")}
    }


def test_a_stored_audience_id_cannot_break_out_of_the_mapping_body(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles
):
    """A row written before ids were checked, holding what a hostile answer put there."""
    _, audience = sandbox_tiktok
    audience.tiktok_audience_id = '1"],"x":["2'
    audience.save()
    step = sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())

    audience_sync_flush(now=T0)

    # The body stayed well-formed: TikTok looked for an audience of that (odd) id, found none.
    stats = StepStats.objects.get(step=step)
    assert stats.last_error_code == 40007
    assert stats.last_error_message == 'Audience 1"],"x":["2 does not exist.'
    logged = tiktok_sandbox.requests("/segment/mapping/")[0]
    assert (logged["code"], logged["rows"]) == (40007, 1)
