from __future__ import annotations

from appgroups.models import ROLE_PERMISSIONS, Permission
from appgroups.selectors import membership_list_for_user


def current_app_group(request) -> dict:
    """The header's app-group switcher and the current role's permissions (for templates)."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "current_membership": membership,
        "current_app_group": membership.app_group,
        "current_permissions": ROLE_PERMISSIONS[membership.role],
        "current_permission_labels": [
            p.label for p in Permission if p in ROLE_PERMISSIONS[membership.role]
        ],
        "switcher_memberships": membership_list_for_user(user=request.user),
    }
