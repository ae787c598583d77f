"""Reads of REST API keys, scoped to one app group."""

from __future__ import annotations

from appgroups.models import AppGroup, RestApiKey


def api_key_list(*, app_group: AppGroup) -> list[RestApiKey]:
    """Active keys first, newest first."""
    keys = RestApiKey.objects.filter(app_group=app_group).select_related("created_by")
    return sorted(keys, key=lambda k: (k.revoked_at is not None, -k.created_at.timestamp()))
