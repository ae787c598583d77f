"""View guards for the current app group. Services repeat the permission check."""

from __future__ import annotations

from functools import wraps

from django.shortcuts import render

from appgroups.services import membership_require


def app_group_required(permission: str | None = None):
    """Require a current app group, and (optionally) a role that grants `permission`.

    A user without a role for `permission` gets the "Limited access" page (403) through
    PermissionDenied; a user without any app group gets a page that says so.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.membership is None:
                return render(request, "appgroups/no_app_group.html", status=403)
            if permission is not None:
                membership_require(request.membership, permission)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
