"""System checks of the sign-in limits' settings (appgroups/loginlimit.py).

Behind the TLS proxy that production assumes (DJANGO_BEHIND_PROXY, on by default when
DJANGO_DEBUG=0), every connection comes from the proxy. Unless LOGIN_CLIENT_ADDRESS_HEADER
names the header the proxy writes the client's address to, the per-address counter counts
every client as the proxy: one client's failed sign-ins lock everyone out. `manage.py check
--deploy` fails until it is set (docs/OPERATIONS.md, "Sign-in limits behind the proxy").
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

LOGIN_ADDRESS_HEADER_MISSING = "appgroups.E001"
LOGIN_ADDRESS_HEADER_META_NAME = "appgroups.E002"


@register(Tags.security, deploy=True)
def login_client_address_header_check(app_configs, **kwargs) -> list[Error]:
    header = settings.LOGIN_CLIENT_ADDRESS_HEADER
    behind_proxy = bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None))
    errors = []
    if behind_proxy and not header:
        errors.append(
            Error(
                "LOGIN_CLIENT_ADDRESS_HEADER is empty behind the TLS proxy "
                "(DJANGO_BEHIND_PROXY): the sign-in limits would count every client as the "
                "proxy's address, so one client's failed sign-ins would lock every user out.",
                hint=(
                    "Set LOGIN_CLIENT_ADDRESS_HEADER=X-Forwarded-For (the header your proxy "
                    "appends the client's address to; docs/OPERATIONS.md). Without a proxy, "
                    "set DJANGO_BEHIND_PROXY=0 instead."
                ),
                id=LOGIN_ADDRESS_HEADER_MISSING,
            )
        )
    if header.upper().startswith("HTTP_"):
        # request.headers has no "HTTP_X_FORWARDED_FOR": every address would be the proxy's.
        errors.append(
            Error(
                f"LOGIN_CLIENT_ADDRESS_HEADER={header} is a WSGI variable name, not a header.",
                hint="Name the header as the proxy sends it, e.g. "
                "LOGIN_CLIENT_ADDRESS_HEADER=X-Forwarded-For.",
                id=LOGIN_ADDRESS_HEADER_META_NAME,
            )
        )
    return errors
