from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class UserImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, a header row with external_id, at most 500 MB. Other columns: email, "
            "phone, first_name, last_name, idfa, google_ad_id, ad_tracking_enabled, "
            "standard fields and custom attributes."
        ),
    )
