from __future__ import annotations

from functools import cache

from notifications.selectors import notification_unread_count


def notifications(request) -> dict:
    """The header's unread count, counted only if a template shows it (htmx fragments don't).

    A callable: templates call it; cached so that the badge's test and text count once.
    """
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    unread = cache(
        lambda: notification_unread_count(user=request.user, app_group_id=membership.app_group_id)
    )
    return {"notifications_unread": unread}
