"""Writes for the TikTok connection: OAuth, ad-account choice, disconnects, token health.

Every service that acts for a person takes the acting membership and checks
MANAGE_PARTNERS itself. TikTok is reached only through partners/tiktok/client.py.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appgroups.models import Membership, Permission, User
from appgroups.selectors import membership_for_user
from appgroups.services import membership_require
from partners.models import (
    NO_LONGER_LISTED,
    AdAccountStatus,
    ConnectionStatus,
    TikTokAdAccount,
    TikTokConnection,
    TikTokOAuthAttempt,
    fit_to_column,
)
from partners.signals import tiktok_connection_changed
from partners.tiktok.access import tiktok_auth_errors_recorded, tiktok_client
from partners.tiktok.client import (
    TIKTOK_ID,
    Advertiser,
    TikTokAuthError,
    TikTokClient,
    TikTokError,
    TikTokMalformedAnswerError,
    TikTokPermanentError,
)

logger = logging.getLogger(__name__)


class OAuthStateError(PermissionDenied):
    """The `state` is unknown, already used, expired, or belongs to someone else."""


# OAuth


def tiktok_oauth_start(*, actor: Membership, redirect_uri: str) -> str:
    """Begin Connect TikTok (or Change Account): returns TikTok's consent-page URL."""
    membership_require(actor, Permission.MANAGE_PARTNERS)
    client = tiktok_client()
    if not client.is_configured:
        raise ValidationError(
            _("TikTok is not configured: set TIKTOK_APP_ID and TIKTOK_APP_SECRET.")
        )
    attempt = TikTokOAuthAttempt.objects.create(
        state=secrets.token_urlsafe(32), app_group=actor.app_group, user=actor.user
    )
    return client.authorization_url(state=attempt.state, redirect_uri=redirect_uri)


def _consume_state(*, user: User, state: str) -> TikTokOAuthAttempt:
    """Mark the state used, once. Raise OAuthStateError for anything but a fresh, own state.

    The state is bound to the user and the app group it was created for: the attempt row
    says which app group the connection goes to, whatever the session says now.
    """
    if not state:
        raise OAuthStateError(_("The TikTok answer carried no state."))
    now = timezone.now()
    fresh_since = now - timedelta(seconds=settings.TIKTOK_OAUTH_STATE_TTL_SECONDS)
    # A conditional UPDATE is the claim: of two racing callbacks only one changes the row.
    claimed = TikTokOAuthAttempt.objects.filter(
        state=state, user=user, state_used_at__isnull=True, created_at__gte=fresh_since
    ).update(state_used_at=now)
    if claimed != 1:
        raise OAuthStateError(
            _("This TikTok authorization is not valid (expired or already used).")
        )
    attempt = TikTokOAuthAttempt.objects.select_related("app_group").get(state=state)
    membership_require(
        membership_for_user(user=user, app_group_id=attempt.app_group_id),
        Permission.MANAGE_PARTNERS,
    )
    return attempt


def tiktok_oauth_cancel(*, user: User, state: str) -> TikTokOAuthAttempt:
    """The person pressed Cancel on TikTok's page: use up the state, store nothing."""
    attempt = _consume_state(user=user, state=state)
    attempt.delete()
    return attempt


def tiktok_oauth_complete(
    *, user: User, state: str, auth_code: str, redirect_uri: str
) -> TikTokOAuthAttempt:
    """Handle TikTok's redirect after Confirm: exchange the code, list the advertisers.

    Raises OAuthStateError (nothing stored) for a bad state, ValidationError with words for
    the admin when TikTok refuses, TikTokError when TikTok cannot be reached or answers
    something malformed (TikTokMalformedAnswerError, a transient error: nothing is stored).
    TikTok's names are cut to their columns.
    """
    attempt = _consume_state(user=user, state=state)
    if not auth_code:
        raise ValidationError(_("TikTok did not send an authorization code."))
    client = tiktok_client()
    try:
        grant = client.exchange_auth_code(auth_code=auth_code, redirect_uri=redirect_uri)
        advertisers = _describe_advertisers(client, grant.access_token, grant.advertiser_ids)
        tiktok_user = client.user_info(access_token=grant.access_token)
    except TikTokPermanentError as exc:
        raise ValidationError(
            # Translators: TikTok's own message follows, as TikTok sent it.
            _("TikTok refused the authorization: %(message)s") % {"message": exc.message}
        ) from exc
    if not advertisers:
        raise ValidationError(_("TikTok authorized no ad account. Tick at least one on TikTok."))
    attempt.set_access_token(grant.access_token)
    attempt.scope = grant.scope
    attempt.advertisers = [_ad_account_fields(vars(a)) for a in advertisers]
    attempt.tiktok_user_name = fit_to_column(
        TikTokOAuthAttempt, "tiktok_user_name", tiktok_user.display_name
    )
    attempt.tiktok_user_id = fit_to_column(
        TikTokOAuthAttempt, "tiktok_user_id", tiktok_user.core_user_id
    )
    attempt.save()
    return attempt


def _describe_advertisers(
    client: TikTokClient, access_token: str, advertiser_ids: list[str]
) -> list[Advertiser]:
    """Names from /oauth2/advertiser/get/, currency and time zone from /advertiser/info/."""
    listed = {a.advertiser_id: a for a in client.authorized_advertisers(access_token=access_token)}
    ids = [i for i in advertiser_ids if i in listed] or list(listed)
    if not ids:
        return []
    try:
        details = {
            a.advertiser_id: a
            for a in client.advertiser_info(access_token=access_token, advertiser_ids=ids)
        }
    except (TikTokPermanentError, TikTokMalformedAnswerError) as exc:
        # The picker still works with names only; currency and time zone are labels.
        logger.warning("tiktok advertiser info unusable, names only: %s", exc)
        details = {}
    return [details.get(i) or listed[i] for i in ids]


def _ad_account_fields(advertiser: dict) -> dict:
    """An advertiser as TikTok described it, each text cut to its TikTokAdAccount column."""
    return {
        "advertiser_id": advertiser["advertiser_id"],
        **{
            name: fit_to_column(TikTokAdAccount, name, str(advertiser.get(name) or ""))
            for name in ("name", "currency", "timezone")
        },
    }


def tiktok_connection_save(
    *, actor: Membership, attempt: TikTokOAuthAttempt, advertiser_ids: list[str]
) -> TikTokConnection:
    """Save the picker: the attempt's token becomes the app group's connection.

    Used for a first connect and for Change Account alike. Ad accounts are matched by
    advertiser id, so Canvas steps on an account that comes back keep working; accounts not
    chosen this time are disconnected.
    """
    membership_require(actor, Permission.MANAGE_PARTNERS)
    if attempt.app_group_id != actor.app_group_id or attempt.user_id != actor.user_id:
        raise PermissionDenied(_("This TikTok authorization belongs to someone else."))
    # Ids were checked when TikTok listed them; checked again for attempts stored before that.
    offered = {
        a["advertiser_id"]: _ad_account_fields(a)
        for a in attempt.advertisers
        if TIKTOK_ID.fullmatch(str(a.get("advertiser_id", "")))
    }
    chosen = [i for i in dict.fromkeys(advertiser_ids) if i in offered]
    if not chosen:
        raise ValidationError({"advertiser_ids": _("Choose at least one ad account.")})
    if not attempt.access_token_ciphertext:
        raise ValidationError(_("This TikTok authorization has no token; connect again."))

    now = timezone.now()
    with transaction.atomic():
        connection, _created = TikTokConnection.objects.select_for_update().get_or_create(
            app_group=actor.app_group
        )
        connection.access_token_ciphertext = attempt.access_token_ciphertext
        connection.scope = attempt.scope
        connection.tiktok_user_name = fit_to_column(
            TikTokConnection, "tiktok_user_name", attempt.tiktok_user_name
        )
        connection.tiktok_user_id = fit_to_column(
            TikTokConnection, "tiktok_user_id", attempt.tiktok_user_id
        )
        connection.status = ConnectionStatus.CONNECTED
        connection.connected_by = actor.user
        connection.connected_at = now
        connection.disconnected_at = None
        connection.invalid_code = None
        connection.invalid_message = ""
        connection.invalid_at = None
        connection.last_checked_at = now
        connection.save()
        for advertiser_id in chosen:
            info = offered[advertiser_id]
            TikTokAdAccount.objects.update_or_create(
                app_group=actor.app_group,
                advertiser_id=advertiser_id,
                defaults={
                    "connection": connection,
                    "name": info["name"],
                    "currency": info["currency"],
                    "timezone": info["timezone"],
                    "status": AdAccountStatus.CONNECTED,
                    "connected_by": actor.user,
                    "connected_at": now,
                    "disconnected_at": None,
                    "invalid_code": None,
                    "invalid_message": "",
                },
            )
        connection.ad_accounts.exclude(advertiser_id__in=chosen).exclude(
            status=AdAccountStatus.DISCONNECTED
        ).update(status=AdAccountStatus.DISCONNECTED, disconnected_at=now)
        # The token now lives only on the connection.
        attempt.delete()
        tiktok_connection_changed.send(sender=TikTokConnection, connection=connection)
    logger.info("tiktok connected app_group=%s ad_accounts=%d", actor.app_group_id, len(chosen))
    return connection


def tiktok_oauth_attempts_prune() -> int:
    """Delete attempts nobody finished (their encrypted tokens included)."""
    cutoff = timezone.now() - TikTokOAuthAttempt.PICKER_TTL
    deleted, _ = TikTokOAuthAttempt.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# Disconnecting


def tiktok_ad_account_disconnect(*, actor: Membership, ad_account_id: int) -> TikTokAdAccount:
    membership_require(actor, Permission.MANAGE_PARTNERS)
    ad_account = TikTokAdAccount.objects.get(pk=ad_account_id, app_group=actor.app_group)
    ad_account.status = AdAccountStatus.DISCONNECTED
    ad_account.disconnected_at = timezone.now()
    ad_account.save(update_fields=["status", "disconnected_at"])
    tiktok_connection_changed.send(sender=TikTokConnection, connection=ad_account.connection)
    return ad_account


def tiktok_disconnect(*, actor: Membership) -> TikTokConnection:
    """Disconnect TikTok: revoke the token at TikTok and forget it here.

    The token is forgotten even when TikTok cannot be reached or says it is already invalid:
    the admin asked us not to hold it any more.
    """
    membership_require(actor, Permission.MANAGE_PARTNERS)
    connection = TikTokConnection.objects.get(app_group=actor.app_group)
    token = connection.access_token
    if token:
        try:
            tiktok_client().revoke_token(access_token=token)
        except TikTokError as exc:
            logger.warning(
                "tiktok revoke failed app_group=%s code=%s", actor.app_group_id, exc.code
            )
    now = timezone.now()
    with transaction.atomic():
        connection.set_access_token("")
        connection.status = ConnectionStatus.DISCONNECTED
        connection.disconnected_at = now
        connection.save()
        connection.ad_accounts.exclude(status=AdAccountStatus.DISCONNECTED).update(
            status=AdAccountStatus.DISCONNECTED, disconnected_at=now
        )
        tiktok_connection_changed.send(sender=TikTokConnection, connection=connection)
    return connection


# Token health


def tiktok_connection_check(*, connection: TikTokConnection) -> TikTokConnection:
    """Ask TikTok which advertisers the token still reaches, and record the answer.

    A working token clears the invalid mark; advertisers TikTok no longer lists lose access,
    and come back when TikTok lists them again. TikTok being unreachable changes nothing.
    """
    token = connection.access_token
    if not token or connection.status == ConnectionStatus.DISCONNECTED:
        return connection
    try:
        with tiktok_auth_errors_recorded(connection):
            advertisers = tiktok_client().authorized_advertisers(access_token=token)
    except TikTokAuthError:
        pass
    except TikTokError as exc:
        logger.warning(
            "tiktok token check inconclusive app_group=%s code=%s",
            connection.app_group_id, exc.code,
        )  # fmt: skip
    else:
        reachable = {a.advertiser_id for a in advertisers}
        with transaction.atomic():
            TikTokConnection.objects.filter(pk=connection.pk).exclude(
                status=ConnectionStatus.DISCONNECTED
            ).update(
                status=ConnectionStatus.CONNECTED,
                invalid_code=None,
                invalid_message="",
                invalid_at=None,
            )
            accounts = connection.ad_accounts.exclude(status=AdAccountStatus.DISCONNECTED)
            accounts.filter(status=AdAccountStatus.CONNECTED).exclude(
                advertiser_id__in=reachable
            ).update(
                status=AdAccountStatus.NO_ACCESS,
                invalid_code=40001,
                # Stored untranslated: shown translated (invalid_message_display).
                invalid_message=NO_LONGER_LISTED,
            )
            accounts.filter(status=AdAccountStatus.NO_ACCESS, advertiser_id__in=reachable).update(
                status=AdAccountStatus.CONNECTED, invalid_code=None, invalid_message=""
            )
            tiktok_connection_changed.send(sender=TikTokConnection, connection=connection)
    TikTokConnection.objects.filter(pk=connection.pk).update(last_checked_at=timezone.now())
    connection.refresh_from_db()
    return connection


def tiktok_connection_check_by(*, actor: Membership) -> TikTokConnection:
    """ "Check connection" on the TikTok page (Admins); beat uses tiktok_connection_check."""
    membership_require(actor, Permission.MANAGE_PARTNERS)
    connection = TikTokConnection.objects.get(app_group=actor.app_group)
    return tiktok_connection_check(connection=connection)


def tiktok_connections_check_all() -> int:
    """The periodic token check (beat): every connection that holds a token."""
    connections = TikTokConnection.objects.exclude(status=ConnectionStatus.DISCONNECTED).exclude(
        access_token_ciphertext=""
    )
    checked = 0
    for connection in connections.iterator():
        tiktok_connection_check(connection=connection)
        checked += 1
    return checked
