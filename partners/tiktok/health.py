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

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners.models import AdAccountStatus, ConnectionStatus, TikTokAdAccount, TikTokConnection
from partners.tiktok.client import TikTokAuthError, TikTokError, TikTokTransientError

INVALID_TOKEN_ADVICE = gettext_lazy(
    "Disconnect and reconnect TikTok on the Technology Partners page, and check that your "
    "TikTok Business Center still grants you admin access to the ad accounts."
)
AD_ACCOUNT_ACCESS_ADVICE = gettext_lazy(
    "Ask the ad account's admins in TikTok Business Center for access, then reconnect TikTok "
    "(Change Account)."
)
NOT_CONNECTED_ADVICE = gettext_lazy(
    "An Admin must connect TikTok on the Technology Partners page (Partner Integrations > "
    "Technology Partners > TikTok)."
)
AD_ACCOUNT_DISCONNECTED_ADVICE = gettext_lazy("Choose another, or reconnect it on the TikTok page.")


class Problem(enum.Enum):
    NONE = "ok"
    NOT_CONNECTED = "not_connected"
    INVALID_TOKEN = "invalid_token"
    AD_ACCOUNT_ACCESS = "ad_account_access"
    AD_ACCOUNT_DISCONNECTED = "ad_account_disconnected"


@dataclass(frozen=True)
class TikTokHealth:
    """Worded in the active language when read (a request's, or the recipient's for a
    notification): keep the value, not its words."""

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
        if self.problem is Problem.NONE:
            return ""
        return {
            Problem.NOT_CONNECTED: _("TikTok is not connected"),
            # Translators: Braze's name for the error (its documents say "Invalid Token").
            Problem.INVALID_TOKEN: _("Invalid Token"),
            # Translators: Braze's name for the error (its documents say "Ad Account Access
            # Attempt").
            Problem.AD_ACCOUNT_ACCESS: _("Ad Account Access Attempt"),
            Problem.AD_ACCOUNT_DISCONNECTED: _("Ad account disconnected"),
        }[self.problem]

    @property
    def detail(self) -> str:
        """What happened, with TikTok's own code and message."""
        names = ", ".join(self.accounts)
        if self.problem is Problem.NONE:
            return ""
        if self.problem is Problem.NOT_CONNECTED:
            return _("TikTok is not connected.")
        if self.problem is Problem.INVALID_TOKEN:
            return _(
                # Translators: TikTok's error code and message, as TikTok sent them.
                "TikTok rejected the connection's access token (code %(code)s: %(message)s)."
            ) % {"code": self.code, "message": self.message}
        if self.problem is Problem.AD_ACCOUNT_ACCESS:
            return _("TikTok no longer grants access to %(accounts)s.") % {"accounts": names}
        return _("The ad account %(accounts)s is no longer connected.") % {"accounts": names}

    @property
    def advice(self) -> str:
        return {
            Problem.NONE: "",
            Problem.NOT_CONNECTED: str(NOT_CONNECTED_ADVICE),
            Problem.INVALID_TOKEN: str(INVALID_TOKEN_ADVICE),
            Problem.AD_ACCOUNT_ACCESS: str(AD_ACCOUNT_ACCESS_ADVICE),
            Problem.AD_ACCOUNT_DISCONNECTED: str(AD_ACCOUNT_DISCONNECTED_ADVICE),
        }[self.problem]

    def sentence(self) -> str:
        """One paragraph for a list of reasons (launch, the step editor): "Invalid Token: …"."""
        if self.ok:
            return ""
        if self.problem is Problem.NOT_CONNECTED:
            return f"{self.detail} {self.advice}"
        if self.problem is Problem.AD_ACCOUNT_DISCONNECTED:
            return _(
                "The ad account %(accounts)s is no longer connected: choose another, or "
                "reconnect it on the TikTok page."
            ) % {"accounts": ", ".join(self.accounts)}
        # Translators: a problem's name, what happened, and what to do, e.g. "Invalid Token:
        # TikTok rejected … Disconnect and reconnect TikTok …".
        return _("%(title)s: %(detail)s %(advice)s") % {
            "title": self.title,
            "detail": self.detail,
            "advice": self.advice,
        }

    def paused_reason(self) -> str:
        """Sync Status's short line for a connection or ad account whose users wait."""
        if self.ok:
            return ""
        if self.problem is Problem.AD_ACCOUNT_DISCONNECTED:
            return _("Not connected: the ad account was disconnected.")
        if self.problem is Problem.NOT_CONNECTED:
            return _("Paused: TikTok is disconnected.")
        return _("Paused: %(title)s. %(advice)s") % {"title": self.title, "advice": self.advice}


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
    """A failed TikTok call in words for the person who asked for it ("TikTok refused to …").

    `doing` is what was asked, already translated, as it follows "refused to" (e.g.
    `_("create the audience “%(name)s”")`). TikTok's message is shown as TikTok sent it."""
    values = {"doing": doing, "message": exc.message}
    if isinstance(exc, TikTokAuthError):
        return _(
            # Translators: %(doing)s is what was asked of TikTok, e.g. "create the audience
            # “X”"; %(message)s is TikTok's message, as TikTok sent it.
            "TikTok refused to %(doing)s: the connection's access token no longer works "
            "(%(message)s). %(advice)s"
        ) % {**values, "advice": INVALID_TOKEN_ADVICE}
    if isinstance(exc, TikTokTransientError):
        return (
            _(
                # Translators: %(doing)s is what was asked of TikTok, e.g. "create the
                # audience “X”"; %(message)s is TikTok's message (or what failed), as is.
                "TikTok could not be reached to %(doing)s (%(message)s). "
                "Nothing was lost: try again in a moment."
            )
            % values
        )
    # Translators: %(doing)s is what was asked of TikTok, e.g. "create the audience “X”";
    # %(message)s is TikTok's message, as TikTok sent it.
    return _("TikTok refused to %(doing)s: %(message)s") % values
