"""Reads for app groups and memberships, always scoped to the signed-in user."""

from __future__ import annotations

from django.db.models import QuerySet

from appgroups.models import Membership, User


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("app_group")


def membership_for_user(*, user: User, app_group_id: int | None) -> Membership | None:
    """The user's membership in `app_group_id`, or None when they are not a member."""
    if app_group_id is None:
        return None
    return membership_list_for_user(user=user).filter(app_group_id=app_group_id).first()
