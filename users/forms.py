from __future__ import annotations

from django import forms


class UserImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "UTF-8, a header row with external_id, at most 500 MB. Other columns: email, "
            "phone, first_name, last_name, idfa, google_ad_id, ad_tracking_enabled, "
            "standard fields and custom attributes."
        ),
    )
