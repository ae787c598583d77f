"""The Audience Sync editor's type-ahead ("Choose a New or Existing Audience"): this Canvas's
drafts, the ad account's audiences on TikTok, and the typed name as a new audience.

TikTok's list is the one remembered for the ad account (up to TIKTOK_AUDIENCE_CACHE_SECONDS
old, partners.tiktok.audiences.tiktok_audience_list), so typing and reloading do not spend the
sync's TikTok budget; a Viewer's page never asks TikTok."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from canvas.models import Canvas
from canvas.selectors import canvas_audience_choices
from core.i18n import number_grouped
from partners.models import AudienceStatus, TikTokAdAccount, TikTokAudience
from partners.tiktok.audiences import tiktok_audience_list
from partners.tiktok.client import TikTokAuthError, TikTokError
from partners.tiktok.health import INVALID_TOKEN_ADVICE

# How many matches the type-ahead shows per kind; typing more narrows the list.
MAX_AUDIENCE_OPTIONS = 25


@dataclass(frozen=True)
class AudienceOption:
    value: str  # "tiktok:<TikTok audience id>", "local:<TikTokAudience pk>" or "new"
    name: str
    detail: str


@dataclass
class AudienceOptions:
    query: str
    existing: list[AudienceOption] = field(default_factory=list)
    drafts: list[AudienceOption] = field(default_factory=list)
    # The typed name, offered as a new audience when it matches no audience exactly.
    new_name: str = ""
    error: str = ""
    searched: bool = False
    # The new name is the saved draft of the step being edited.
    is_own_draft: bool = False
    # A Viewer's page with no list remembered: TikTok's audiences are not shown.
    not_checked: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.existing or self.drafts or self.new_name)


def _matches(name: str, query: str) -> bool:
    return not query or query.casefold() in name.casefold()


def audience_options(
    *,
    canvas: Canvas,
    ad_account: TikTokAdAccount | None,
    query: str,
    own_draft: TikTokAudience | None = None,
    ask_tiktok: bool = True,
) -> AudienceOptions:
    """What "Choose a New or Existing Audience" offers for the typed text: the ad account's
    audiences on TikTok (every page), this Canvas's drafts, and the text as a new audience
    when no audience has exactly that name.

    `own_draft` is the not-yet-created draft of the step being edited: it is that step's new
    audience, so its name is offered as "new" (to change its fields) rather than as a draft.
    `ask_tiktok=False` (a Viewer) shows only the list remembered, if any.
    """
    query = " ".join((query or "").split())
    options = AudienceOptions(query=query)
    if ad_account is None:
        return options
    options.searched = True
    ours = [
        a
        for a in canvas_audience_choices(canvas=canvas, ad_account=ad_account)
        if own_draft is None or a.pk != own_draft.pk
    ]
    our_tiktok_ids = {a.tiktok_audience_id for a in ours if a.tiktok_audience_id}
    names = {a.name.casefold() for a in ours}
    for audience in ours:
        if _matches(audience.name, query):
            status = (
                _("Draft in this Canvas")
                if audience.status != AudienceStatus.CREATED
                else _("Created by this Canvas")
            )
            options.drafts.append(AudienceOption(f"local:{audience.pk}", audience.name, status))
    try:
        listed = tiktok_audience_list(ad_account=ad_account, ask_tiktok=ask_tiktok)
        options.not_checked = listed is None
        on_tiktok = listed.audiences if listed is not None else []
    except TikTokAuthError as exc:
        # Translators: TikTok's own error message in parentheses, then what to do.
        options.error = _("TikTok refused the connection's token (%(error)s). %(advice)s") % {
            "error": exc.message,
            "advice": INVALID_TOKEN_ADVICE,
        }
        on_tiktok = []
    except TikTokError as exc:
        # Translators: TikTok's (or the network's) own error message in parentheses.
        options.error = _("TikTok could not be reached to list the audiences (%(error)s).") % {
            "error": exc
        }
        on_tiktok = []
    for audience in on_tiktok:
        names.add(audience.name.casefold())
        if audience.audience_id in our_tiktok_ids or not _matches(audience.name, query):
            continue
        # TikTok's own type of the audience (as TikTok names it), else ours.
        detail = audience.audience_type or _("TikTok audience")
        if audience.cover_num:
            detail = ngettext(
                "%(detail)s · about %(count)s user",
                "%(detail)s · about %(count)s users",
                audience.cover_num,
            ) % {
                "detail": detail,
                "count": number_grouped(audience.cover_num),
            }
        options.existing.append(
            AudienceOption(f"tiktok:{audience.audience_id}", audience.name, detail)
        )
    options.existing.sort(key=lambda o: o.name.casefold())
    options.existing = options.existing[:MAX_AUDIENCE_OPTIONS]
    options.drafts = options.drafts[:MAX_AUDIENCE_OPTIONS]
    if query and query.casefold() not in names:
        options.new_name = query
        options.is_own_draft = own_draft is not None and own_draft.name == query
    return options
