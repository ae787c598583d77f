"""Reads for notifications: always one user's, in one app group."""

from __future__ import annotations

from django.db.models import QuerySet

from appgroups.models import AppGroup, User
from notifications.models import Notification


def notification_list(*, user: User, app_group: AppGroup) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user, app_group=app_group)


def notification_unread_count(*, user: User, app_group_id: int) -> int:
    return Notification.objects.filter(
        user=user, app_group_id=app_group_id, read_at__isnull=True
    ).count()
