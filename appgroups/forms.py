from __future__ import annotations

import phonenumbers
from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from appgroups.countries import country_name
from appgroups.models import ApiPermission, AppGroup

# Also worded on the page while the numbers are re-read (users.selectors.phone_renormalizations).
DEFAULT_COUNTRY_HELP = _(
    "Phone numbers stored without a country code are read in this country. Changing it re-reads "
    "the numbers already stored, in the background. Users already synced to TikTok keep their "
    "old phone hash in TikTok's audiences: this product does not take it back."
)


def _country_choices() -> list[tuple[str, str]]:
    """Every region with phone numbers, named in the active language (read when the form is
    rendered: the choices are this callable)."""
    language = (get_language() or "en").split("-")[0]
    choices = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        code = phonenumbers.country_code_for_region(region)
        name = country_name(region, language)
        label = f"{region} (+{code})" if name == region else f"{region} – {name} (+{code})"
        choices.append((region, label))
    return choices


class AppGroupSettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=AppGroup._meta.get_field("name").max_length)
    default_country = forms.ChoiceField(
        label=_("Default country"), choices=_country_choices, help_text=DEFAULT_COUNTRY_HELP
    )


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, e.g. “Data warehouse sync”."),
    )
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"),
        choices=ApiPermission.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The endpoints this key may call. They cannot be changed later."),
    )
