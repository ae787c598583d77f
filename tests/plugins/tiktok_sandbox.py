"""Fixtures that start the TikTok sandbox (tiktok_sandbox/) as its own process on a free port.

Integration tests talk to it over real HTTP, exactly as the product's TikTok client would talk
to business-api.tiktok.com (docs/ARCHITECTURE.md D15). Nothing here imports the sandbox's code.

Fixtures
    tiktok_sandbox_server  (session) One `python -m tiktok_sandbox` subprocess for the session,
                           on 127.0.0.1 and a free port, with a temporary data dir; killed at the
                           end. A `SandboxServer`: .base_url, .app_id, .app_secret, .data_dir,
                           .restart() (same port and data: state must survive it).
    tiktok_sandbox         (function) The same server, reset to its seed (no tokens, audiences,
                           extra redirect URIs, faults or request log; clock offset 0), as a
                           `TikTokSandbox` helper (below).

Settings (fixed so tests don't depend on the developer's environment): QPS limit 50, 10,000
rows per mapping request, 400 audiences per ad account, size shown from 1,000 ids. App id and
secret come from TIKTOK_APP_ID / TIKTOK_APP_SECRET when set (the product reads the same
variables), else the sandbox defaults. Registered redirect URIs: the product's callback on
127.0.0.1:8000 and localhost:8000; a test serving the product elsewhere (live_server) must
call `tiktok_sandbox.add_redirect_uri(f"{live_server.url}/partners/tiktok/callback/")`.

TikTokSandbox, the helper
    .base_url            origin, e.g. http://127.0.0.1:50123 (set the product's TIKTOK_API_BASE
                         to this); .api_base is base_url + "/open_api/v1.3"
    .app_id, .app_secret
    .seed                 the seed as GET /_sandbox/seed returns it (business centers, ad
                         accounts, users); .owner_user_id, .agency_user_id, .advertiser_ids
                         (the owner's Business Center), .other_bc_advertiser_id
    .api_get(path, token=None, **params) / .api_post(path, body, token=None)
                         call the TikTok API (lists in params are JSON-encoded, as TikTok
                         wants); return the JSON envelope {code, message, request_id, data}
    .connect(user_id=None, advertiser_ids=None) -> access token, via an auth_code the control
                         API mints (the consent page's Confirm without a browser)
    .issue_auth_code(...) -> auth_code;  .exchange(auth_code) -> the token exchange's envelope
    .consent_url(redirect_uri, state) -> the /portal/auth URL a person would be sent to
    .create_audience(token, advertiser_id, name) -> audience_id
    .add_members(token, advertiser_id, audience_id, emails=[...], phones=[...]) -> envelope
    .revoke(access_token=None)           Business Center "Remove access" (None: every token)
    .remove_advertiser(advertiser_id, access_token=None)
    .delete_audience(audience_id)
    .audience(audience_id) -> {size, counts, is_valid, history, ...}
    .members(audience_id) -> {"EMAIL_SHA256": [hex, ...], ...}, exact and sorted
    .set_faults(**changes) / .clear_faults()   e.g. set_faults(script=["50000"]),
                         set_faults(probabilities={"40100": 0.5}), set_faults(qps_limit=10)
    .add_redirect_uri(uri);  .set_clock_offset(seconds);  .advance_clock(seconds)
    .stats() -> counts incl. mapping.max_requests_in_any_second;  .requests(endpoint=None)
    .control(method, path, body=None, **query) -> any other /_sandbox route (docs/SANDBOX.md)
    .reset()
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import orjson
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_APP_ID = "7000000000000000001"
DEFAULT_APP_SECRET = "sandbox-secret-change-me"
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class SandboxServer:
    """The sandbox subprocess: started once per session, restartable in place."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app_id = os.environ.get("TIKTOK_APP_ID") or DEFAULT_APP_ID
        self.app_secret = os.environ.get("TIKTOK_APP_SECRET") or DEFAULT_APP_SECRET
        self.env = {
            **os.environ,
            "TIKTOK_APP_ID": self.app_id,
            "TIKTOK_APP_SECRET": self.app_secret,
            "TIKTOK_SANDBOX_DATA_DIR": str(data_dir),
            "TIKTOK_SANDBOX_REDIRECT_URIS": (
                "http://127.0.0.1:8000/partners/tiktok/callback/,"
                "http://localhost:8000/partners/tiktok/callback/"
            ),
            "TIKTOK_SANDBOX_LOOPBACK_ANY_PORT": "",
            "TIKTOK_SANDBOX_QPS_LIMIT": "50",
            "TIKTOK_SANDBOX_MAX_IDS_PER_REQUEST": "10000",
            "TIKTOK_SANDBOX_AUDIENCE_CAP": "400",
            "TIKTOK_SANDBOX_SIZE_THRESHOLD": "1000",
            "TIKTOK_SANDBOX_SEED": "1",
        }
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir / "sandbox.log"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tiktok_sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.base_url + "/_sandbox/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the TikTok sandbox did not start on {self.base_url}:\n{tail}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class TikTokSandbox:
    """Helpers over the sandbox's TikTok API and control API (see the module docstring)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.api_base = server.base_url + "/open_api/v1.3"
        self.app_id = server.app_id
        self.app_secret = server.app_secret
        self.http = requests.Session()
        self._seed: dict | None = None

    # -- control API ----------------------------------------------------------------------------

    def control(self, method: str, path: str, body: dict | None = None, **params) -> dict:
        response = self.http.request(
            method, f"{self.base_url}/_sandbox{path}", json=body, params=params or None, timeout=30
        )
        if response.status_code >= 400:
            raise AssertionError(
                f"{method} /_sandbox{path}: {response.status_code} {response.text}"
            )
        return response.json()

    def reset(self) -> None:
        self.control("POST", "/reset")

    @property
    def seed(self) -> dict:
        if self._seed is None:
            self._seed = self.control("GET", "/seed")
        return self._seed

    @property
    def owner_user_id(self) -> str:
        return self.seed["users"][0]["user_id"]

    @property
    def agency_user_id(self) -> str:
        return self.seed["users"][1]["user_id"]

    @property
    def advertiser_ids(self) -> list[str]:
        """The owner's Business Center's ad accounts."""
        return list(self.seed["users"][0]["default_advertiser_ids"])

    @property
    def other_bc_advertiser_id(self) -> str:
        owner_bc = self.seed["business_centers"][0]["bc_id"]
        return next(a["advertiser_id"] for a in self.seed["ad_accounts"] if a["bc_id"] != owner_bc)

    def issue_auth_code(
        self,
        user_id: str | None = None,
        advertiser_ids: list[str] | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        body = {"user_id": user_id, "advertiser_ids": advertiser_ids, "redirect_uri": redirect_uri}
        return self.control("POST", "/auth_codes", body)["auth_code"]

    def revoke(self, access_token: str | None = None) -> list[str]:
        return self.control("POST", "/tokens/revoke", {"access_token": access_token})["revoked"]

    def remove_advertiser(self, advertiser_id: str, access_token: str | None = None) -> None:
        body = {"advertiser_id": advertiser_id, "access_token": access_token}
        self.control("POST", "/tokens/remove_advertiser", body)

    def delete_audience(self, audience_id: str) -> None:
        self.control("POST", f"/audiences/{audience_id}/delete")

    def audience(self, audience_id: str) -> dict:
        return self.control("GET", f"/audiences/{audience_id}")

    def members(self, audience_id: str) -> dict[str, list[str]]:
        return self.control("GET", f"/audiences/{audience_id}/members")["members"]

    def set_faults(self, **changes) -> dict:
        return self.control("POST", "/faults", changes)

    def clear_faults(self) -> dict:
        return self.control("POST", "/faults/clear")

    def add_redirect_uri(self, uri: str) -> None:
        self.control("POST", "/redirect_uris", {"uri": uri})

    def set_clock_offset(self, seconds: float) -> None:
        self.control("POST", "/clock", {"offset_seconds": seconds})

    def advance_clock(self, seconds: float) -> None:
        self.control("POST", "/clock", {"advance_seconds": seconds})

    def stats(self) -> dict:
        return self.control("GET", "/stats")

    def requests(self, endpoint: str | None = None, limit: int = 100) -> list[dict]:
        params = {"limit": limit, **({"endpoint": endpoint} if endpoint else {})}
        return self.control("GET", "/requests", **params)["requests"]

    # -- TikTok API -----------------------------------------------------------------------------

    def api_get(self, path: str, token: str | None = None, **params) -> dict:
        encoded = {
            key: orjson.dumps(value).decode() if isinstance(value, list) else value
            for key, value in params.items()
        }
        headers = {"Access-Token": token} if token else {}
        response = self.http.get(self.api_base + path, params=encoded, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def api_post(self, path: str, body: dict | bytes, token: str | None = None) -> dict:
        headers = {"Content-Type": "application/json", **({"Access-Token": token} if token else {})}
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        response = self.http.post(self.api_base + path, data=data, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def exchange(self, auth_code: str) -> dict:
        body = {"app_id": self.app_id, "secret": self.app_secret, "auth_code": auth_code}
        return self.api_post("/oauth2/access_token/", body)

    def connect(self, user_id: str | None = None, advertiser_ids: list[str] | None = None) -> str:
        answer = self.exchange(self.issue_auth_code(user_id, advertiser_ids))
        assert answer["code"] == 0, answer
        return answer["data"]["access_token"]

    def consent_url(self, redirect_uri: str, state: str = "state-1") -> str:
        query = urlencode({"app_id": self.app_id, "state": state, "redirect_uri": redirect_uri})
        return f"{self.base_url}/portal/auth?{query}"

    def create_audience(self, token: str, advertiser_id: str, name: str = "Audience") -> str:
        body = {"advertiser_id": advertiser_id, "action": "create", "custom_audience_name": name}
        answer = self.api_post("/segment/audience/", body, token)
        assert answer["code"] == 0, answer
        return answer["data"]["audience_id"]

    def add_members(
        self,
        token: str,
        advertiser_id: str,
        audience_id: str,
        emails: list[str] = (),
        phones: list[str] = (),
        action: str = "add",
    ) -> dict:
        """One row per email (with the phone at the same index, if any), hashed like the product."""
        rows = []
        for i in range(max(len(emails), len(phones))):
            row = []
            for values in (emails, phones):
                if i < len(values):
                    row.append({"id": sha256_hex(values[i]), "audience_ids": [audience_id]})
                else:
                    row.append({})
            rows.append(row)
        body = {
            "advertiser_ids": [advertiser_id],
            "action": action,
            "id_schema": ["EMAIL_SHA256", "PHONE_SHA256"],
            "batch_data": rows,
        }
        return self.api_post("/segment/mapping/", body, token)


@pytest.fixture(scope="session")
def tiktok_sandbox_server() -> Iterator[SandboxServer]:
    data_dir = Path(tempfile.mkdtemp(prefix="tiktok-sandbox-"))
    server = SandboxServer(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def tiktok_sandbox(tiktok_sandbox_server: SandboxServer) -> Iterator[TikTokSandbox]:
    sandbox = TikTokSandbox(tiktok_sandbox_server)
    sandbox.reset()
    yield sandbox
    sandbox.http.close()
