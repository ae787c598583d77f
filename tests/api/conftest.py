"""REST API tests talk HTTP to a live server with `requests`, the way Braze clients do."""

from __future__ import annotations

import pytest
import requests

from appgroups.models import ApiPermission
from tests.factories import rest_api_key

ALL_PERMISSIONS = tuple(ApiPermission.values)


class Api:
    """A Braze REST client against the live server: `api.post("/users/track", json=..., key=...)`."""

    def __init__(self, base_url: str, key: str | None):
        self.base_url = base_url
        self.key = key
        self.session = requests.Session()

    def request(self, method: str, path: str, *, key: str | None = "default", **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        key = self.key if key == "default" else key
        if key is not None and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {key}"
        return self.session.request(
            method, self.base_url + path, headers=headers, timeout=30, **kwargs
        )

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)


@pytest.fixture
def api_key(app_group):
    """A key of `app_group` with every permission: (RestApiKey, secret)."""
    return rest_api_key(app_group=app_group, permissions=ALL_PERMISSIONS)


@pytest.fixture
def api(live_server, api_key):
    return Api(f"{live_server.url}/api", api_key[1])
