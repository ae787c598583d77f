"""What is wrong with a TikTok connection or ad account, decided once and worded once.

`connection_health` and `ad_account_health` read the state the product recorded (a connection
marked invalid by an auth error or the token check, an ad account TikTok stopped listing, one
the admin disconnected) into a `TikTokHealth`. Every surface renders that value instead of
rewording it: the TikTok page's and the Canvases' banners (partners.selectors), the launch check
and the step editor (canvas), Sync Status (monitoring), notifications, and the flush. The words
are Braze's error names: "Invalid Token", "Ad Account Access Attempt" (docs/ARCHITECTURE.md D7, B2).

Reads only what is stored: asking TikTok is the token check's job (partners.services).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from partners.models import AdAccountStatus, ConnectionStatus, TikTokAdAccount, TikTokConnection
from partners.tiktok.client import TikTokAuthError, TikTokError, TikTokTransientError

INVALID_TOKEN_ADVICE = (
    "Disconnect and reconnect TikTok on the Technology Partners page, and check that your "
    "TikTok Business Center still grants you admin access to the ad accounts."
)
AD_ACCOUNT_ACCESS_ADVICE = (
    "Ask the ad account's admins in TikTok Business Center for access, then reconnect TikTok "
    "(Change Account)."
)
NOT_CONNECTED_ADVICE = (
    "An Admin must connect TikTok on the Technology Partners page (Partner Integrations > "
    "Technology Partners > TikTok)."
)


class Problem(enum.Enum):
    NONE = "ok"
    NOT_CONNECTED = "not_connected"
    INVALID_TOKEN = "invalid_token"
    AD_ACCOUNT_ACCESS = "ad_account_access"
    AD_ACCOUNT_DISCONNECTED = "ad_account_disconnected"


@dataclass(frozen=True)
class TikTokHealth:
    problem: Problem
    # TikTok's code and message, shown as TikTok sent them.
    code: int | None = None
    message: str = ""
    # The ad account(s) concerned, by name (advertiser id when unnamed).
    accounts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is Problem.NONE

    @property
    def pauses_sync(self) -> bool:
        """Users of this connection or ad account wait instead of being sent."""
        return not self.ok

    @property
    def title(self) -> str:
        """Braze's name for the problem."""
        return {
            Problem.NONE: "",
            Problem.NOT_CONNECTED: "TikTok is not connected",
            Problem.INVALID_TOKEN: "Invalid Token",
            Problem.AD_ACCOUNT_ACCESS: "Ad Account Access Attempt",
            Problem.AD_ACCOUNT_DISCONNECTED: "Ad account disconnected",
        }[self.problem]

    @property
    def detail(self) -> str:
        """What happened, with TikTok's own code and message."""
        names = ", ".join(self.accounts)
        return {
            Problem.NONE: "",
            Problem.NOT_CONNECTED: "TikTok is not connected.",
            Problem.INVALID_TOKEN: (
                f"TikTok rejected the connection's access token (code {self.code}: {self.message})."
            ),
            Problem.AD_ACCOUNT_ACCESS: f"TikTok no longer grants access to {names}.",
            Problem.AD_ACCOUNT_DISCONNECTED: f"The ad account {names} is no longer connected.",
        }[self.problem]

    @property
    def advice(self) -> str:
        return {
            Problem.NONE: "",
            Problem.NOT_CONNECTED: NOT_CONNECTED_ADVICE,
            Problem.INVALID_TOKEN: INVALID_TOKEN_ADVICE,
            Problem.AD_ACCOUNT_ACCESS: AD_ACCOUNT_ACCESS_ADVICE,
            Problem.AD_ACCOUNT_DISCONNECTED: (
                "Choose another, or reconnect it on the TikTok page."
            ),
        }[self.problem]

    def sentence(self) -> str:
        """One paragraph for a list of reasons (launch, the step editor): "Invalid Token: …"."""
        if self.problem is Problem.NOT_CONNECTED:
            return f"{self.detail} {self.advice}"
        if self.problem is Problem.AD_ACCOUNT_DISCONNECTED:
            return f"{self.detail[:-1]}: {self.advice[0].lower()}{self.advice[1:]}"
        return f"{self.title}: {self.detail} {self.advice}" if not self.ok else ""

    def paused_reason(self) -> str:
        """Sync Status's short line for a connection or ad account whose users wait."""
        if self.problem is Problem.AD_ACCOUNT_DISCONNECTED:
            return "Not connected: the ad account was disconnected."
        if self.problem is Problem.NOT_CONNECTED:
            return "Paused: TikTok is disconnected."
        return f"Paused: {self.title}. {self.advice}" if not self.ok else ""


HEALTHY = TikTokHealth(Problem.NONE)


def _label(ad_account: TikTokAdAccount) -> str:
    return ad_account.name or ad_account.advertiser_id


def connection_health(connection: TikTokConnection | None) -> TikTokHealth:
    """The connection as a whole (not its ad accounts)."""
    if (
        connection is None
        or connection.status == ConnectionStatus.DISCONNECTED
        or not connection.access_token_ciphertext
    ):
        return TikTokHealth(Problem.NOT_CONNECTED)
    if connection.status == ConnectionStatus.INVALID:
        return TikTokHealth(
            Problem.INVALID_TOKEN, code=connection.invalid_code, message=connection.invalid_message
        )
    return HEALTHY


def ad_account_health(ad_account: TikTokAdAccount) -> TikTokHealth:
    """One ad account on its own (its connection is judged by `connection_health`)."""
    if ad_account.status == AdAccountStatus.DISCONNECTED:
        return TikTokHealth(Problem.AD_ACCOUNT_DISCONNECTED, accounts=(_label(ad_account),))
    if ad_account.status == AdAccountStatus.NO_ACCESS:
        return TikTokHealth(
            Problem.AD_ACCOUNT_ACCESS,
            code=ad_account.invalid_code,
            message=ad_account.invalid_message,
            accounts=(_label(ad_account),),
        )
    return HEALTHY


def sending_health(ad_account: TikTokAdAccount) -> TikTokHealth:
    """Whether users can be sent through this ad account now: its connection first."""
    health = connection_health(ad_account.connection)
    return health if not health.ok else ad_account_health(ad_account)


def lost_access_health(connection: TikTokConnection) -> TikTokHealth:
    """The connection's ad accounts that TikTok stopped granting, as one problem."""
    lost = tuple(
        connection.ad_accounts.filter(status=AdAccountStatus.NO_ACCESS)
        .order_by("pk")
        .values_list("name", flat=True)
    )
    return TikTokHealth(Problem.AD_ACCOUNT_ACCESS, accounts=lost) if lost else HEALTHY


def tiktok_error_sentence(exc: TikTokError, doing: str) -> str:
    """A failed TikTok call in words for the person who asked for it ("TikTok refused to …")."""
    if isinstance(exc, TikTokAuthError):
        return (
            f"TikTok refused to {doing}: the connection's access token no longer works "
            f"({exc.message}). {INVALID_TOKEN_ADVICE}"
        )
    if isinstance(exc, TikTokTransientError):
        return (
            f"TikTok could not be reached to {doing} ({exc.message}). "
            "Nothing was lost: try again in a moment."
        )
    return f"TikTok refused to {doing}: {exc.message}"
