from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class AdAccountPickerForm(forms.Form):
    """Choose which authorized TikTok ad accounts this app group may sync to."""

    advertiser_ids = forms.MultipleChoiceField(
        label=_("Ad accounts"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one ad account.")},
    )

    def __init__(self, *args, advertisers: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["advertiser_ids"].choices = [
            (a["advertiser_id"], _label(a)) for a in advertisers
        ]
        # Braze ticks every authorized account by default.
        self.fields["advertiser_ids"].initial = [a["advertiser_id"] for a in advertisers]


def _label(advertiser: dict) -> str:
    extras = " · ".join(v for v in (advertiser.get("currency"), advertiser.get("timezone")) if v)
    name = advertiser.get("name") or gettext("Unnamed ad account")
    return f"{name} ({advertiser['advertiser_id']})" + (f" — {extras}" if extras else "")
