"""The running sandbox: settings, store, membership, faults, traffic and the clock, in one object.

The HTTP layers (api.py, portal.py, control.py) call the operations here, so the consent page,
the Business Center page and the control API change state in exactly the same way.
"""

from __future__ import annotations

import random
import secrets
import time
from urllib.parse import urlsplit

from tiktok_sandbox import seed
from tiktok_sandbox.config import Settings
from tiktok_sandbox.faults import Faults
from tiktok_sandbox.membership import Membership
from tiktok_sandbox.store import AudienceEvent, Checkpointer, Store, Token, connect
from tiktok_sandbox.traffic import Traffic

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def new_request_id(now: float) -> str:
    # TikTok's look: UTC timestamp to the second, then hex (docs/TIKTOK_API.md §3.1).
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + secrets.token_hex(5).upper()


class Sandbox:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(connect(settings.db_path))
        self.checkpointer = Checkpointer(settings.db_path)
        self.checkpointer.start()
        self.membership = Membership(self.store, settings.data_dir)
        self.membership.load()
        self.traffic = Traffic()
        self.clock_offset = 0.0
        self.rng = random.Random(settings.seed)
        self.faults = self._load_faults()

    # -- clock ----------------------------------------------------------------------------------

    def now(self) -> float:
        """Wall time plus the offset tests set through POST /_sandbox/clock."""
        return time.time() + self.clock_offset

    # -- lifecycle ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seed: no tokens, codes, audiences, added redirect URIs, faults or stats."""
        self.store.reset()
        self.membership.reset()
        self.traffic.reset()
        self.clock_offset = 0.0
        self.rng = random.Random(self.settings.seed)
        self.faults = Faults()

    def close(self) -> None:
        self.checkpointer.stop()
        self.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.store.db.close()
        self.membership.close()

    # -- faults ---------------------------------------------------------------------------------

    def _load_faults(self) -> Faults:
        saved = self.store.meta_get("faults")
        if isinstance(saved, dict):
            try:
                return Faults.from_dict(saved)
            except (KeyError, ValueError, TypeError):
                pass
        return Faults()

    def faults_set(self, faults: Faults) -> None:
        self.faults = faults
        with self.store.transaction():
            self.store.meta_set("faults", faults.to_dict())

    @property
    def qps_limit(self) -> int:
        return self.faults.qps_limit or self.settings.qps_limit

    # -- redirect URIs --------------------------------------------------------------------------

    def redirect_uris(self) -> list[str]:
        return list(dict.fromkeys([*self.settings.redirect_uris, *self.store.redirect_uri_list()]))

    def redirect_uri_allowed(self, uri: str) -> bool:
        registered = self.redirect_uris()
        if uri in registered:
            return True
        if not self.settings.loopback_any_port:
            return False
        return any(_same_but_loopback_port(uri, known) for known in registered)

    def redirect_uri_add(self, uri: str) -> None:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("redirect URI must be an absolute http(s) URL")
        with self.store.transaction():
            self.store.redirect_uri_add(uri, self.now())

    # -- authorization --------------------------------------------------------------------------

    def authorize(self, *, user_id: str, advertiser_ids: list[str], redirect_uri: str) -> str:
        """What Confirm on the consent page does: a single-use auth_code for these accounts."""
        user = seed.USERS_BY_ID[user_id]
        allowed = [a for a in advertiser_ids if a in user.advertiser_ids]
        with self.store.transaction():
            return self.store.auth_code_create(
                app_id=self.settings.app_id,
                user_id=user_id,
                advertiser_ids=allowed,
                redirect_uri=redirect_uri,
                now=self.now(),
            )

    def token_revoke(self, token: str, *, by: str) -> bool:
        with self.store.transaction():
            return self.store.token_revoke(token, by=by, now=self.now())

    def token_remove_advertiser(self, token: str, advertiser_id: str) -> bool:
        with self.store.transaction():
            return self.store.token_remove_advertiser(token, advertiser_id, self.now())

    def tokens(self) -> list[Token]:
        return self.store.token_list()

    # -- audiences ------------------------------------------------------------------------------

    def audience_delete(self, audience_id: str, *, editor: str, request_id: str) -> None:
        """Delete through any door (API, Business Center, control API); members are dropped."""
        now = self.now()
        with self.store.transaction():
            self.store.audience_mark_deleted(audience_id, now)
            self.store.audience_event_add(
                AudienceEvent(audience_id, now, "remove", request_id, editor, 0, {})
            )
            self.membership.forget_audience(audience_id)

    def audience_size(self, audience_id: str) -> int:
        return self.membership.size(audience_id)


def _same_but_loopback_port(uri: str, registered: str) -> bool:
    a, b = urlsplit(uri), urlsplit(registered)
    if a.hostname is None or b.hostname is None:
        return False
    return (
        a.scheme == b.scheme
        and a.hostname == b.hostname
        and a.hostname in LOOPBACK_HOSTS
        and a.path == b.path
        and a.query == b.query
    )
