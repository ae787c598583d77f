"""Reading a CSV import: a byte stream turned into normalized rows, ready to be written.

The column rules (required, standard, refused and custom columns), the staged row layout the
writer consumes (STAGE_COLUMNS, one value per column, addressed through POS), the row reader that
normalizes each row once (users.identifiers) or rejects it, the merging of two rows for the same
external_id, and `csv_file_check`, which reads a whole file without importing it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import BinaryIO

from django.utils.translation import gettext_noop

from users import identifiers
from users.messages import Message
from users.profile_fields import (
    AD_ID_RAW_MAX_LENGTH,
    EMAIL_RAW_MAX_LENGTH,
    EXTERNAL_ID_MAX_LENGTH,
    INT_MAX,
    INT_MIN,
    PHONE_RAW_MAX_LENGTH,
    STANDARD_FIELDS,
    TEXT_MAX_LENGTH,
    FieldError,
    clean_attribute_name,
)

MAX_COLUMNS = 500

REQUIRED_COLUMN = "external_id"
AD_COLUMNS = ("idfa", "google_ad_id", "ad_tracking_enabled")
STANDARD_COLUMNS = frozenset(STANDARD_FIELDS) | {REQUIRED_COLUMN, *AD_COLUMNS}
# Other ways of naming a profile: rows are matched by external_id only.
REFUSED_COLUMNS = frozenset(
    {"braze_id", "user_alias", "alias_name", "alias_label", "user_aliases", "devices"}
)
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")

# Staging table columns, one row per CSV row; NULL means "the cell was empty": keep the stored
# value. The writer creates the table (writer.STAGE_TABLE).
STAGE_COLUMNS = (
    ("external_id", "varchar(512)"),
    ("braze_id", "varchar(24)"),
    ("email", "varchar(255)"),
    ("email_sha256", "varchar(64)"),
    ("email_invalid_reason", "varchar(100)"),
    ("phone", "varchar(64)"),
    ("phone_e164", "varchar(16)"),
    ("phone_sha256", "varchar(64)"),
    ("phone_invalid_reason", "varchar(100)"),
    ("first_name", "varchar(255)"),
    ("last_name", "varchar(255)"),
    ("country", "varchar(2)"),
    ("language", "varchar(2)"),
    ("dob", "date"),
    ("gender", "varchar(1)"),
    ("home_city", "varchar(255)"),
    ("time_zone", "varchar(64)"),
    ("email_subscribe", "varchar(12)"),
    ("push_subscribe", "varchar(12)"),
    ("custom_attributes", "jsonb"),
    ("idfa", "varchar(64)"),
    ("idfa_sha256", "varchar(64)"),
    ("idfa_invalid_reason", "varchar(100)"),
    ("google_ad_id", "varchar(64)"),
    ("gaid_sha256", "varchar(64)"),
    ("gaid_invalid_reason", "varchar(100)"),
    ("ad_tracking_enabled", "boolean"),
)
POS = {name: i for i, (name, _) in enumerate(STAGE_COLUMNS)}
# Cells that are written together: when the first is given, the others follow it.
GROUPS = (
    ("email", "email_sha256", "email_invalid_reason"),
    ("phone", "phone_e164", "phone_sha256", "phone_invalid_reason"),
    ("idfa", "idfa_sha256", "idfa_invalid_reason"),
    ("google_ad_id", "gaid_sha256", "gaid_invalid_reason"),
)
_GROUPED = {name for group in GROUPS for name in group}


class CsvFileError(Exception):
    """The file cannot be imported at all (not CSV, not UTF-8, no external_id column...).

    `str()` is the English text; `message` the msgid and parameters, for the import's page."""

    def __init__(self, msgid: str, **params):
        self.message = Message(msgid, params)
        super().__init__(str(self.message))


class RowRejected(Exception):
    """A row that is not imported; `reason` is the English text, `message` its Message."""

    def __init__(self, message: Message, column: str = ""):
        self.message = message
        self.reason = str(message)
        self.column = column
        super().__init__(self.reason)


# Messages the import also raises (users.csv_import.lifecycle).
FILE_EMPTY = gettext_noop("the file is empty")
NOT_UTF8 = gettext_noop("the file is not UTF-8 text (near line %(line)s)")
# Translators: %(problem)s is Python's csv module's own English message, e.g. "field larger than
# field limit (131072)".
CSV_ERROR = gettext_noop("line %(line)s: %(problem)s")


def _too_long(column: str, max_length: int) -> Message:
    return Message(
        gettext_noop("%(column)s is longer than %(max)s characters"),
        {"column": column, "max": max_length},
    )


def _nul(column: str) -> Message:
    return Message(gettext_noop("%(column)s has a NUL character"), {"column": column})


# --- reading rows ---------------------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """Counts the bytes read from a binary stream, for the progress bar."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _parse_bool(cell: str, column: str) -> bool:
    lowered = cell.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise RowRejected(
        Message(gettext_noop("%(column)s must be true or false"), {"column": column}), column
    )


def _custom_value(cell: str, column: str):
    if len(cell) in (4, 5):
        lowered = cell.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    if cell[0].isdigit() or cell[0] == "-":
        if _INTEGER.fullmatch(cell):
            number = int(cell)
            if INT_MIN <= number <= INT_MAX:
                return number
        elif _DECIMAL.fullmatch(cell):
            number = float(cell)
            if math.isfinite(number):
                return number
    if len(cell) > TEXT_MAX_LENGTH:
        raise RowRejected(_too_long(column, TEXT_MAX_LENGTH), column)
    return cell


class RowReader:
    """Turns CSV rows into staging tuples, rejecting rows that cannot be imported."""

    def __init__(self, header: list[str], default_country: str):
        self.default_country = default_country
        names = []
        for index, raw_name in enumerate(header):
            name = raw_name.strip()
            if not name:
                raise CsvFileError(
                    gettext_noop("column %(number)s of the header has no name"), number=index + 1
                )
            if name.lower() in STANDARD_COLUMNS:
                name = name.lower()
            elif name.lower() in REFUSED_COLUMNS:
                raise CsvFileError(
                    gettext_noop(
                        "column '%(name)s' cannot be imported: rows are matched by external_id"
                    ),
                    name=name[:50],
                )
            else:
                try:
                    clean_attribute_name(name)
                except FieldError as exc:
                    raise CsvFileError(
                        # Translators: a problem with the name of a column of a CSV file, e.g.
                        # "column 3: custom attribute names must not be empty".
                        gettext_noop("column %(number)s: %(problem)s"),
                        number=index + 1,
                        problem=exc.message,
                    ) from exc
            names.append(name)
        if len(set(names)) != len(names):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise CsvFileError(
                gettext_noop("column '%(name)s' appears twice in the header"),
                name=duplicate[:50],
            )
        if REQUIRED_COLUMN not in names:
            raise CsvFileError(gettext_noop("the header has no external_id column"))
        if len(names) > MAX_COLUMNS:
            raise CsvFileError(
                gettext_noop("the file has more than %(count)s columns"), count=MAX_COLUMNS
            )
        self.names = names
        self.width = len(names)
        self.external_id_index = names.index(REQUIRED_COLUMN)
        # One handler per column, chosen once: rows are many, columns few.
        self.handlers = [
            (i, name, self._handler(name))
            for i, name in enumerate(names)
            if name != REQUIRED_COLUMN
        ]
        self.custom_position = POS["custom_attributes"]
        # The staging columns that this file's rows can fill, in STAGE_COLUMNS' order: every
        # other one is None in every row, and the writer leaves it out of COPY.
        filled = {REQUIRED_COLUMN, "braze_id"}
        for name in names:
            group = next((g for g in GROUPS if g[0] == name), None)
            standard = name in STANDARD_COLUMNS  # else a custom attribute, whatever its name
            filled.update(group or ((name,) if standard else ("custom_attributes",)))
        self.filled_columns = tuple(name for name, _ in STAGE_COLUMNS if name in filled)

    def _handler(self, name: str):
        """A function (cell, values, custom) -> reason a kept value is unusable, or ""."""
        country = self.default_country
        normalize_email, normalize_phone = identifiers.normalize_email, identifiers.normalize_phone
        normalize_ad_id = identifiers.normalize_ad_id

        def checked(cell: str, max_length: int) -> str:
            if len(cell) > max_length:
                raise RowRejected(_too_long(name, max_length), name)
            if "\x00" in cell:
                raise RowRejected(_nul(name), name)
            return cell

        if name == "email":

            def handle(cell, values, custom):
                result = normalize_email(checked(cell, EMAIL_RAW_MAX_LENGTH))
                values[2:5] = (cell, result.sha256, result.invalid_reason)
                return result.invalid_reason

        elif name == "phone":

            def handle(cell, values, custom):
                result = normalize_phone(
                    checked(cell, PHONE_RAW_MAX_LENGTH), default_country=country, cache=False
                )
                values[5:9] = (cell, result.value, result.sha256, result.invalid_reason)
                return result.invalid_reason

        elif name in ("idfa", "google_ad_id"):
            start = POS[name]

            def handle(cell, values, custom):
                result = normalize_ad_id(checked(cell, AD_ID_RAW_MAX_LENGTH))
                values[start : start + 3] = (cell, result.sha256, result.invalid_reason)
                return result.invalid_reason

        elif name == "ad_tracking_enabled":
            position = POS[name]

            def handle(cell, values, custom):
                values[position] = _parse_bool(cell, name)
                return ""

        elif name in ("first_name", "last_name", "home_city"):
            position = POS[name]

            def handle(cell, values, custom):
                values[position] = checked(cell, TEXT_MAX_LENGTH)
                return ""

        elif name in STANDARD_FIELDS:
            setter = STANDARD_FIELDS[name]

            def handle(cell, values, custom):
                try:
                    for column, value in setter(cell, country).items():
                        values[POS[column]] = value
                except FieldError as exc:
                    raise RowRejected(exc.message, name) from exc
                return ""

        else:

            def handle(cell, values, custom):
                if "\x00" in cell:
                    raise RowRejected(_nul(name), name)
                custom[name] = _custom_value(cell, name)
                return ""

        return handle

    def read(self, row: list[str]) -> tuple[list, list[tuple[str, str]]]:
        """(staging values, [(column, reason) of values kept but unusable]); RowRejected."""
        if len(row) != self.width:
            raise RowRejected(
                Message(
                    gettext_noop("expected %(expected)s fields, found %(found)s"),
                    {"expected": self.width, "found": len(row)},
                )
            )
        external_id = row[self.external_id_index].strip()
        if not external_id:
            raise RowRejected(Message(gettext_noop("missing external_id")), REQUIRED_COLUMN)
        if len(external_id) > EXTERNAL_ID_MAX_LENGTH or "\x00" in external_id:
            raise RowRejected(
                Message(gettext_noop("external_id is too long or has a NUL character")),
                REQUIRED_COLUMN,
            )
        values: list = [None] * len(STAGE_COLUMNS)
        values[0] = external_id
        unusable: list[tuple[str, str]] = []
        custom: dict = {}
        for index, name, handle in self.handlers:
            cell = row[index]
            if not cell:
                continue
            cell = cell.strip()
            if not cell:
                continue
            reason = handle(cell, values, custom)
            if reason:
                unusable.append((name, reason))
        if custom:
            values[self.custom_position] = custom
        return values, unusable


def merge_rows(old: list, new: list) -> list:
    """Two rows for the same external_id in one batch: the later one's cells win."""
    merged = list(old)
    for group in GROUPS:
        first = POS[group[0]]
        if new[first] is not None:
            for name in group:
                merged[POS[name]] = new[POS[name]]
    for name, i in POS.items():
        if name in _GROUPED or name == "custom_attributes":
            continue
        if new[i] is not None:
            merged[i] = new[i]
    custom = POS["custom_attributes"]
    if new[custom] is not None:
        merged[custom] = {**(old[custom] or {}), **new[custom]}
    return merged


def csv_file_check(stream: BinaryIO, *, default_country: str) -> None:
    """Read the whole file as CSV (UTF-8, field sizes, quoting) without importing it: raise
    CsvFileError for what would stop an import half-way. Costs one parse of the file, a few
    percent of an import's time, so a bad byte at the end cannot leave the start imported."""
    text = io.TextIOWrapper(
        # The counting wrapper also keeps the caller's stream open when this reader goes.
        io.BufferedReader(CountingReader(stream), 1 << 20),
        encoding="utf-8-sig",
        newline="",
    )
    reader = csv.reader(text)
    try:
        try:
            RowReader(next(reader), default_country)
        except StopIteration as exc:
            raise CsvFileError(FILE_EMPTY) from exc
        for _ in reader:
            pass
    except UnicodeDecodeError as exc:
        raise CsvFileError(NOT_UTF8, line=reader.line_num + 1) from exc
    except csv.Error as exc:
        raise CsvFileError(CSV_ERROR, line=reader.line_num + 1, problem=str(exc)) from exc
