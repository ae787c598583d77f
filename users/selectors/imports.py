"""Reads of CSV imports, scoped to one app group."""

from __future__ import annotations

from appgroups.models import AppGroup
from users.models import UserImport, UserImportIssue

RECENT_IMPORTS = 20
ISSUES_ON_PAGE = 100


def user_import_list(*, app_group: AppGroup) -> list[UserImport]:
    return list(
        UserImport.objects.filter(app_group=app_group).select_related("created_by")[:RECENT_IMPORTS]
    )


def user_import_get(*, app_group: AppGroup, user_import_id: int) -> UserImport:
    """Raises UserImport.DoesNotExist for another group's import, like for a missing one."""
    return UserImport.objects.get(app_group=app_group, id=user_import_id)


def user_import_issues(*, user_import: UserImport, limit: int | None = ISSUES_ON_PAGE):
    issues = UserImportIssue.objects.filter(user_import=user_import).order_by("line", "id")
    return list(issues[:limit]) if limit else issues.iterator()
