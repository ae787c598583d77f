"""Logging filters: what must never reach a log line (DESIGN.md §7)."""

from __future__ import annotations

import logging
import re

# "GET /users/?q=ana@example.com HTTP/1.1" → "GET /users/?… HTTP/1.1"
_QUERY_STRING = re.compile(r"(\s/[^\s?]*)\?\S*")


class NoQueryStrings(logging.Filter):
    """Drop query strings from request lines (Django's dev server and request errors log the
    full path, and a URL may carry an email or phone someone typed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _QUERY_STRING.sub(r"\1?…", message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
