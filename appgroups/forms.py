from __future__ import annotations

import phonenumbers
from django import forms

from appgroups.models import ApiPermission, AppGroup


def _country_choices() -> list[tuple[str, str]]:
    return [
        (region, f"{region} (+{phonenumbers.country_code_for_region(region)})")
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    ]


class AppGroupSettingsForm(forms.Form):
    name = forms.CharField(max_length=AppGroup._meta.get_field("name").max_length)
    default_country = forms.ChoiceField(
        choices=_country_choices,
        help_text="Phone numbers stored without a country code are read in this country.",
    )


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the key is for, e.g. “Data warehouse sync”."
    )
    permissions = forms.MultipleChoiceField(
        choices=ApiPermission.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The endpoints this key may call. They cannot be changed later.",
    )
