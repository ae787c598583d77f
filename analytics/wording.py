"""Texts the sync stores for the analytics page, and how the page shows them (issue 16).

The sync runs in workers, for whoever opens the page later: what it stores is English, a stable
code, and the page translates it when it shows it.

- Not Synced reasons (NotSyncedReason.reason), written by audience_sync.enqueue's SQL: either
  "<field>: <why its value cannot be matched>" ("Email: not an email address") or
  "No <field> or <field>…" ("No Email or Phone"), the fields named by canvas.MatchField's
  English labels and the whys by users.identifiers' reasons.
- Our own sync problems, stored as a step's last error or in the sync log beside TikTok's
  messages: English msgids, marked with gettext_noop where they are written; TikTok's own
  messages are in no catalog and are shown as TikTok sent them.
"""

from __future__ import annotations

from functools import cache

from django.utils import translation
from django.utils.translation import gettext, gettext_noop, pgettext

from canvas.models import MatchField
from users.identifiers import invalid_reason_text

# What the flush stores when it could not send a batch (audience_sync.flush).
AUDIENCE_NEVER_CREATED = gettext_noop("Audience Does Not Exist: it was never created on TikTok")
NOT_SENT_IN_RETRY_WINDOW = gettext_noop("Not sent before the retry window ended")

_MISSING_PREFIX = "No "
_MISSING_JOINER = " or "
_INVALID_SEPARATOR = ": "


@cache
def _english_labels() -> dict[str, str]:
    """MatchField values by their English label."""
    with translation.override(None):
        return {str(field.label): field.value for field in MatchField}


@cache
def _english_label(field: str) -> str:
    with translation.override(None):
        return str(MatchField(field).label)


def not_synced_invalid_prefix(field: str) -> str:
    """The stored reason's start for a user whose `field` value cannot be matched (the reason
    of users.identifiers follows)."""
    return f"{_english_label(field)}{_INVALID_SEPARATOR}"


def not_synced_missing(fields: list[str]) -> str:
    """The stored reason for a user with none of `fields`."""
    return _MISSING_PREFIX + _MISSING_JOINER.join(_english_label(f) for f in fields)


def not_synced_reason_text(stored: str) -> str:
    """A stored Not Synced reason in the active language (one this module does not recognise:
    as stored)."""
    labels = _english_labels()
    if stored.startswith(_MISSING_PREFIX):
        names = stored[len(_MISSING_PREFIX) :].split(_MISSING_JOINER)
        if names and all(name in labels for name in names):
            fields = [str(MatchField(labels[name]).label) for name in names]
            listed = fields[0]
            for field in fields[1:]:
                # Translators: joins the identifiers a user has none of, in "No %(fields)s"
                # (e.g. "Email or Phone"); applied again for a third one.
                listed = pgettext("not synced reason", "%(first)s or %(second)s") % {
                    "first": listed,
                    "second": field,
                }
            # Translators: why users were not synced: they have none of these identifiers, e.g.
            # "No Email or Phone".
            return pgettext("not synced reason", "No %(fields)s") % {"fields": listed}
    name, separator, reason = stored.partition(_INVALID_SEPARATOR)
    if separator and name in labels:
        # Translators: why users were not synced: the value of this identifier cannot be
        # matched, e.g. "Email: not an email address".
        return pgettext("not synced reason", "%(field)s: %(reason)s") % {
            "field": MatchField(labels[name]).label,
            "reason": invalid_reason_text(reason),
        }
    return stored


def sync_message_text(stored: str) -> str:
    """A step's last error or a sync-log message in the active language: ours translated,
    TikTok's as TikTok sent it (it is in no catalog, so gettext returns it unchanged)."""
    return gettext(stored) if stored else stored
