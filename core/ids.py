"""Reading database ids typed by people (URLs, forms, API bodies)."""

from __future__ import annotations

import re

# ASCII digits only (str.isdigit() also accepts "²" and other digits int() refuses), and short
# enough for a 64-bit column (a longer number overflows SQLite's integer).
_ID = re.compile(r"[0-9]{1,18}")


def parse_id(value: object) -> int | None:
    """The id `value` spells, or None when it spells none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and _ID.fullmatch(value):
        return int(value)
    return None
