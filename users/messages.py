"""Messages the CSV import stores, shown later in the reader's language (issue 16).

An import runs in a worker, for whoever opens its page afterwards: each problem it finds is kept
as its English msgid and parameters (a `Message`, stored as JSON beside the English text), and the
page translates it when it shows it. The English text stays what the report download and
`manage.py import_users` print, and what the REST API says for the same field errors
(users.profile_fields.FieldError).

A msgid is marked where it is written, with `gettext_noop("…")`, so that makemessages finds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext


@dataclass(frozen=True)
class Message:
    """A msgid (with %(name)s placeholders) and its parameters; a parameter may itself be a
    Message (a field's problem inside a sentence about the column)."""

    msgid: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        """The English text (no catalog involved)."""
        if not self.params:
            return self.msgid
        return self.msgid % {name: str(value) for name, value in self.params.items()}

    def translated(self) -> str:
        """The text in the active language."""
        text = gettext(self.msgid)
        if not self.params:
            return text
        return text % {
            name: value.translated() if isinstance(value, Message) else value
            for name, value in self.params.items()
        }

    def as_json(self) -> dict:
        params = {
            name: value.as_json() if isinstance(value, Message) else value
            for name, value in self.params.items()
        }
        return {"msgid": self.msgid, "params": params} if params else {"msgid": self.msgid}

    @classmethod
    def from_json(cls, data) -> Message | None:
        """The Message `as_json` stored, or None for anything else (rows from before issue 16)."""
        if not isinstance(data, dict) or not isinstance(data.get("msgid"), str):
            return None
        params = {
            name: (cls.from_json(value) or value) if isinstance(value, dict) else value
            for name, value in (data.get("params") or {}).items()
        }
        return cls(data["msgid"], params)
