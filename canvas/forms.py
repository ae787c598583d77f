"""Forms of the Canvas builder. They only parse and check shapes; services decide."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from canvas.audience import FIELD_CHOICES, TEXT_OPS, audience_filter_clean
from canvas.models import EntryType, MatchField, SyncAction
from canvas.services import MAX_DELAY_SECONDS, MAX_MESSAGE_LENGTH, MESSAGE_CHANNELS


class CanvasBasicsForm(forms.Form):
    name = forms.CharField(max_length=200, label=gettext_lazy("Name"))
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label=gettext_lazy("Description"),
    )
    tags = forms.CharField(
        required=False,
        max_length=1100,
        label=gettext_lazy("Tags"),
        help_text=gettext_lazy("Separate tags with commas."),
    )


SCHEDULE_AT_LAUNCH = "launch"
SCHEDULE_AT_TIME = "time"


class CanvasEntryForm(forms.Form):
    entry_type = forms.ChoiceField(
        choices=EntryType.choices,
        widget=forms.RadioSelect,
        label=gettext_lazy("Entry schedule type"),
    )
    schedule_mode = forms.ChoiceField(
        choices=[
            (SCHEDULE_AT_LAUNCH, gettext_lazy("Once, at launch")),
            (SCHEDULE_AT_TIME, gettext_lazy("Once, at a set time")),
        ],
        widget=forms.RadioSelect,
        required=False,
        label=gettext_lazy("When users enter"),
    )
    schedule_at = forms.DateTimeField(
        required=False,
        label=gettext_lazy("Entry time (UTC)"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean(self):
        data = super().clean()
        if data.get("entry_type") == EntryType.SCHEDULED:
            if data.get("schedule_mode") == SCHEDULE_AT_TIME:
                if not data.get("schedule_at") and "schedule_at" not in self.errors:
                    self.add_error("schedule_at", _("Choose the entry time."))
            else:
                data["schedule_at"] = None
        else:
            data["schedule_at"] = None
        return data


BOOLEAN_CHOICES = [
    ("true", pgettext_lazy("audience filter value", "true")),
    ("false", pgettext_lazy("audience filter value", "false")),
]


class FilterAddForm(forms.Form):
    """One new filter; its fields are prefixed `filter_` so it can share a form with others."""

    filter_field = forms.ChoiceField(
        choices=[("", gettext_lazy("Choose a filter…")), *FIELD_CHOICES]
    )
    filter_flag = forms.ChoiceField(
        choices=BOOLEAN_CHOICES, required=False, label=gettext_lazy("Value")
    )
    filter_op = forms.ChoiceField(
        choices=list(TEXT_OPS.items()), required=False, label=gettext_lazy("Operator")
    )
    filter_key = forms.CharField(
        required=False, label=gettext_lazy("Attribute name"), max_length=255
    )
    filter_value = forms.CharField(required=False, label=gettext_lazy("Value"), max_length=255)

    def clean(self):
        data = super().clean()
        field = data.get("filter_field")
        if not field:
            return data
        raw = {
            "field": field,
            "op": data.get("filter_op") or "equals",
            "key": data.get("filter_key", ""),
            "value": data.get("filter_flag")
            if field not in ("country", "custom_attribute")
            else data.get("filter_value", ""),
        }
        try:
            data["filter"] = audience_filter_clean(raw)
        except ValidationError as exc:
            names = {"field": "filter_field", "op": "filter_op", "key": "filter_key"}
            for key, errors in exc.message_dict.items():
                target = names.get(key) or (
                    "filter_value" if field in ("country", "custom_attribute") else "filter_flag"
                )
                self.add_error(target, errors)
        return data


class TargetAudienceForm(forms.Form):
    allow_reentry = forms.BooleanField(
        required=False,
        label=gettext_lazy("Allow users to re-enter this Canvas"),
        help_text=gettext_lazy("Users who already entered may enter again (each entry counts)."),
    )


class StepNameForm(forms.Form):
    name = forms.CharField(required=False, max_length=200, label=gettext_lazy("Step name"))


DELAY_UNITS = [
    ("seconds", pgettext_lazy("delay unit", "seconds")),
    ("minutes", pgettext_lazy("delay unit", "minutes")),
    ("hours", pgettext_lazy("delay unit", "hours")),
    ("days", pgettext_lazy("delay unit", "days")),
]
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class DelayForm(StepNameForm):
    amount = forms.IntegerField(min_value=1, label=gettext_lazy("Wait"))
    unit = forms.ChoiceField(choices=DELAY_UNITS, label=gettext_lazy("Unit"))

    def clean(self):
        data = super().clean()
        if data.get("amount") and data.get("unit"):
            seconds = data["amount"] * UNIT_SECONDS[data["unit"]]
            if seconds > MAX_DELAY_SECONDS:
                self.add_error("amount", _("A Delay waits at most two years."))
            data["seconds"] = seconds
        return data

    @staticmethod
    def initial_for(seconds: int) -> dict:
        for unit in ("days", "hours", "minutes"):
            if seconds and seconds % UNIT_SECONDS[unit] == 0:
                return {"amount": seconds // UNIT_SECONDS[unit], "unit": unit}
        return {"amount": seconds or 1, "unit": "seconds"}


class MessageForm(StepNameForm):
    channel = forms.ChoiceField(choices=MESSAGE_CHANNELS, label=gettext_lazy("Channel"))
    body = forms.CharField(
        required=False,
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        label=gettext_lazy("Message"),
        help_text=gettext_lazy("No real channel is wired: a send is recorded per user."),
    )


class AudienceSyncForm(StepNameForm):
    """The "Set up Audience Sync" editor. `audience` is "new", "local:<pk>" or
    "tiktok:<TikTok audience id>"; a new audience's name is the type-ahead text."""

    partner = forms.CharField(required=False)
    ad_account = forms.ChoiceField(required=False, label=gettext_lazy("Ad account"))
    audience_query = forms.CharField(
        required=False, max_length=200, label=gettext_lazy("Choose a New or Existing Audience")
    )
    audience = forms.CharField(required=False, max_length=64)
    action = forms.ChoiceField(
        choices=SyncAction.choices,
        required=False,
        widget=forms.RadioSelect,
        label=gettext_lazy("Action"),
    )
    match_fields = forms.MultipleChoiceField(
        choices=MatchField.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Fields to match"),
    )

    def __init__(self, *args, ad_accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ad_account"].choices = [("", _("Choose an ad account…"))] + [
            (str(a.pk), f"{a.name or _('Ad account')} ({a.advertiser_id})") for a in ad_accounts
        ]

    def clean_partner(self):
        partner = self.cleaned_data.get("partner") or "tiktok"
        if partner != "tiktok":
            raise ValidationError(_("Only TikTok is available."))
        return partner

    def clean_ad_account(self):
        value = self.cleaned_data.get("ad_account")
        return int(value) if value else None

    def clean_action(self):
        return self.cleaned_data.get("action") or SyncAction.ADD
