"""Parsing and validation of `/segment/mapping/` bodies (docs/TIKTOK_API.md §5.2 and docs/SANDBOX.md).

A 10,000-row body is about 2.3 MB of JSON. Turning it into Python objects with orjson and
walking every cell costs ~35 ms on the 2-core benchmark machine, too slow for 50 requests/s,
so there are two paths with the same outcome:

* the fast path works on the raw bytes. A batch built by a program repeats one row layout (or
  a few, when some cells are `{}`): every row has the same bytes as the first row of its layout
  except inside the `id` values. It validates that first row with orjson, slices every row's
  ids out at fixed offsets, rebuilds the whole text from the first row and those ids, and
  compares: equal means every row is valid. Bytes operations in C, no object per cell: ~7 ms
  instead of ~35 ms. It never raises: anything it cannot prove returns None.
* the slow path parses everything and checks every cell in order. It decides every error, so
  error codes and messages never depend on which path ran.

tests/sandbox/test_mapping_parser.py checks that both paths agree on valid and invalid bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter

import orjson

from tiktok_sandbox import errors
from tiktok_sandbox.errors import ApiError, param_error

# id_schema values for the Segment API and the length of their lowercase hex digests
# (docs/TIKTOK_API.md §5.2; GAID is sent as AAID).
ID_LENGTHS: dict[str, int] = {
    "EMAIL_SHA256": 64,
    "PHONE_SHA256": 64,
    "IDFA_SHA256": 64,
    "AAID_SHA256": 64,
    "IDFA_MD5": 32,
    "AAID_MD5": 32,
}

_LOWER_HEX = re.compile(r"[0-9a-f]*")
_LOWER_HEX_BYTES = b"0123456789abcdef"
_JSON_SPACE = b" \t\r\n"  # JSON whitespace only: bytes.strip() would also take \f and \v

# Grouping rows by layout: lowercase hex digits become b"x", so rows that differ only in their
# ids translate to the same bytes.
_HEX_TO_X = bytearray(range(256))
for _byte in b"0123456789abcdef":
    _HEX_TO_X[_byte] = ord("x")
_HEX_TO_X = bytes(_HEX_TO_X)
_OPEN, _CLOSE = ord("["), ord("]")
# Row separators of compact JSON (orjson, JSON.stringify) and of Python's json.dumps.
_ROW_SEPARATORS = (b"],[", b"], [")
_ID_KEY = re.compile(rb'"id"[ \t\r\n]*:[ \t\r\n]*"')
_BATCH_KEY = re.compile(rb'"batch_data"[ \t\r\n]*:[ \t\r\n]*\[')
# More distinct row layouts than this means the batch was not built by a program; let the
# slow path handle it rather than validate hundreds of layouts.
_MAX_LAYOUTS = 64

# Per id_schema column: audience_ids of the cells -> the ids of those cells, lowercase hex, back to
# back (one bytes object instead of thousands: the store and the sets want them that way).
Columns = list[dict[tuple[str, ...], bytes]]


@dataclass
class MappingBatch:
    """A valid `/segment/mapping/` request, ready to check against the store and apply."""

    advertiser_ids: list[str]
    action: str
    id_schema: list[str]
    rows: int
    columns: Columns = field(repr=False)

    def audience_ids(self) -> list[str]:
        found = {audience for column in self.columns for key in column for audience in key}
        return sorted(found)

    def ids_by_audience(self) -> dict[str, dict[str, bytes]]:
        """audience_id -> id type -> the ids (hex, back to back, repeats kept) that go to it."""
        parts: dict[str, dict[str, list[bytes]]] = {}
        for id_type, column in zip(self.id_schema, self.columns, strict=True):
            for audience_key, ids in column.items():
                for audience_id in dict.fromkeys(audience_key):
                    parts.setdefault(audience_id, {}).setdefault(id_type, []).append(ids)
        return {
            audience_id: {id_type: b"".join(chunks) for id_type, chunks in by_type.items()}
            for audience_id, by_type in parts.items()
        }


@dataclass
class ParsedMapping:
    """What parse_mapping found, errors included, so the caller decides their order.

    Pure data: parsing touches no state, so it needs no ordering against other requests.
    """

    advertiser_ids: list[str] = field(default_factory=list)
    action: str = "add"
    id_schema: list[str] = field(default_factory=list)
    head_error: ApiError | None = None
    rows: int = 0
    columns: Columns = field(default_factory=list, repr=False)
    batch_error: ApiError | None = None

    def resolve(self, check_advertisers: Callable[[list[str]], None]) -> MappingBatch:
        """The batch, or the first error: the body's fields (40002), then `check_advertisers`
        (the caller's permission check), then batch_data (40002, 40011, 40062)."""
        if self.head_error is not None:
            raise self.head_error
        check_advertisers(self.advertiser_ids)
        if self.batch_error is not None:
            raise self.batch_error
        return MappingBatch(
            self.advertiser_ids, self.action, self.id_schema, self.rows, self.columns
        )


def parse_mapping_body(
    body: bytes,
    max_rows: int,
    check_advertisers: Callable[[list[str]], None] = lambda advertiser_ids: None,
) -> MappingBatch:
    """Validate a request body; raise ApiError with TikTok's code for the first problem."""
    return parse_mapping(body, max_rows).resolve(check_advertisers)


def parse_mapping(body: bytes, max_rows: int) -> ParsedMapping:
    return _parse_fast(body, max_rows) or _parse_slow(body, max_rows)


def _parse_fast(body: bytes, max_rows: int) -> ParsedMapping | None:
    located = _locate_batch_data(body)
    if located is None:
        return None
    head, start, end = located
    try:
        advertiser_ids, action, id_schema = parse_head(head)
    except ApiError:
        return None  # the full parse decides which error comes first
    lengths = [ID_LENGTHS[t] for t in id_schema]
    extracted = fast_extract(body, lengths, max_rows, start, end)
    if extracted is None:
        return None
    rows, columns = extracted
    return ParsedMapping(advertiser_ids, action, id_schema, rows=rows, columns=columns)


def _parse_slow(body: bytes, max_rows: int) -> ParsedMapping:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return ParsedMapping(head_error=param_error(f"Request body is not valid JSON: {exc}"))
    try:
        advertiser_ids, action, id_schema = parse_head(document)
    except ApiError as error:
        return ParsedMapping(head_error=error)
    parsed = ParsedMapping(advertiser_ids, action, id_schema)
    lengths = [ID_LENGTHS[t] for t in id_schema]
    raw = document.get("batch_data")
    if isinstance(raw, str):
        # Some generated clients send batch_data as a JSON-encoded string (§5.2).
        extracted = fast_extract(raw.encode(), lengths, max_rows)
        if extracted is not None:
            parsed.rows, parsed.columns = extracted
            return parsed
    try:
        rows = _batch_rows(raw, max_rows)
        parsed.columns = slow_extract(rows, lengths)
        parsed.rows = len(rows)
    except ApiError as error:
        parsed.batch_error = error
    return parsed


def parse_head(document: object) -> tuple[list[str], str, list[str]]:
    """advertiser_ids, action and id_schema, validated in that order."""
    if not isinstance(document, dict):
        raise param_error("Request body must be a JSON object.")
    advertiser_ids = document.get("advertiser_ids")
    if advertiser_ids is None:
        raise param_error("advertiser_ids: Missing data for required field.")
    if not _is_string_list(advertiser_ids) or not advertiser_ids:
        raise param_error("advertiser_ids: must be a non-empty array of strings.")
    action = document.get("action")
    if action is None:
        action = "add"  # TikTok's default (§5.2)
    if action not in ("add", "delete"):
        raise param_error(f"action: must be one of add, delete; got {action!r}.")
    id_schema = document.get("id_schema")
    if id_schema is None:
        raise param_error("id_schema: Missing data for required field.")
    if not _is_string_list(id_schema) or not id_schema:
        raise param_error("id_schema: must be a non-empty array of strings.")
    # Lowercase enum values are accepted (bububa's segment_mapping.go comment).
    id_schema = [value.upper() for value in id_schema]
    for value in id_schema:
        if value not in ID_LENGTHS:
            allowed = ", ".join(ID_LENGTHS)
            raise param_error(f"id_schema: {value!r} is not one of {allowed}.")
    if len(set(id_schema)) != len(id_schema):
        raise param_error("id_schema: duplicate id types are not allowed.")
    return list(advertiser_ids), action, id_schema


def slow_extract(rows: list[object], lengths: list[int]) -> Columns:
    """Check every row and cell in order; the first problem raises."""
    width = len(lengths)
    found: list[dict[tuple[str, ...], list[bytes]]] = [{} for _ in range(width)]
    for r, row in enumerate(rows):
        if type(row) is not list:
            raise param_error(f"batch_data[{r}]: each row must be an array of cells.")
        if len(row) != width:
            raise param_error(
                f"batch_data[{r}]: the row has {len(row)} cells but id_schema has {width}; "
                "use {} for a missing id."
            )
        for j, cell in enumerate(row):
            if type(cell) is not dict:
                raise param_error(f"batch_data[{r}][{j}]: each cell must be an object.")
            if not cell:
                continue
            ident = cell.get("id")
            audience_ids = cell.get("audience_ids")
            if type(ident) is not str:
                raise param_error(f"batch_data[{r}][{j}].id: must be a string.")
            if not _is_string_list(audience_ids) or not audience_ids:
                raise param_error(
                    f"batch_data[{r}][{j}].audience_ids: must be a non-empty array of strings."
                )
            if len(ident) != lengths[j] or not _LOWER_HEX.fullmatch(ident):
                raise ApiError(
                    errors.PII_NOT_HASHED,
                    f"batch_data[{r}][{j}].id: must be a lowercase hex digest of "
                    f"{lengths[j]} characters; hash identifiers before sending them.",
                )
            found[j].setdefault(tuple(audience_ids), []).append(ident.encode())
    return [{key: b"".join(ids) for key, ids in column.items()} for column in found]


def fast_extract(
    data: bytes, lengths: list[int], max_rows: int, lo: int = 0, hi: int | None = None
) -> tuple[int, Columns] | None:
    """(rows, columns) for the batch_data array at data[lo:hi], or None if not provable.

    Works on offsets into `data` rather than slices: each copy of a 2.3 MB body costs about
    as much as the whole check.
    """
    lo, hi = _strip(data, lo, len(data) if hi is None else hi)
    if hi - lo < 2 or data[lo] != _OPEN or data[hi - 1] != _CLOSE:
        return None
    lo, hi = _strip(data, lo + 1, hi - 1)
    if hi - lo < 2 or data[lo] != _OPEN or data[hi - 1] != _CLOSE:
        return None
    lo, hi = lo + 1, hi - 1  # rows joined by separators, without the first "[" and last "]"
    if data.find(b"\\", lo, hi) >= 0:
        return None  # an escape would make byte positions differ from string positions
    separator = next((s for s in _ROW_SEPARATORS if data.find(s, lo, hi) >= 0), b"],[")
    whole = _extract_one_layout(data, lo, hi, separator, lengths, max_rows)
    if whole is not None:
        return whole
    return _extract_layouts(data[lo:hi], separator, lengths, max_rows)


def _extract_layouts(
    joined: bytes, separator: bytes, lengths: list[int], max_rows: int
) -> tuple[int, Columns] | None:
    """Several row layouts (e.g. some rows lack a phone): group rows by layout, then prove each.

    The layout of a row is the row with every lowercase hex digit replaced by "x", so rows
    that differ only in their ids share one.
    """
    pieces = joined.split(separator)
    if len(pieces) > max_rows:
        return None
    layouts = joined.translate(_HEX_TO_X).split(separator)
    if len(layouts) != len(pieces):
        return None
    groups: dict[bytes, list[bytes]] = {}
    for piece, layout in zip(pieces, layouts, strict=True):
        groups.setdefault(layout, []).append(piece)
        if len(groups) > _MAX_LAYOUTS:
            return None
    total = 0
    merged: list[dict[tuple[str, ...], list[bytes]]] = [{} for _ in lengths]
    for group in groups.values():
        rows_text = separator.join(group)
        extracted = _extract_one_layout(rows_text, 0, len(rows_text), separator, lengths, max_rows)
        if extracted is None:
            return None
        rows, columns = extracted
        total += rows
        for target, column in zip(merged, columns, strict=True):
            for key, ids in column.items():
                target.setdefault(key, []).append(ids)
    return total, [{key: b"".join(parts) for key, parts in column.items()} for column in merged]


def _extract_one_layout(
    data: bytes, lo: int, hi: int, separator: bytes, lengths: list[int], max_rows: int
) -> tuple[int, Columns] | None:
    """Prove every row of data[lo:hi] is the first row with other lowercase-hex ids.

    If all rows have the first row's length, the ids sit at fixed offsets and can be sliced
    out. Rebuilding the text from the first row's bytes between ids plus those slices, and
    finding it equal to the original, proves everything outside the ids is the same in every
    row; the ids themselves are then checked to be lowercase hex in one pass per column.
    """
    first_end = data.find(separator, lo, hi)
    if first_end < 0:
        first_end = hi
    period = first_end - lo + len(separator)
    count, remainder = divmod(hi - lo + len(separator), period)
    if remainder or count > max_rows:
        return None
    first_row = data[lo:first_end]
    id_starts = _first_row_id_starts(first_row, lengths)
    if id_starts is None:
        return None
    columns: Columns = [{} for _ in lengths]
    if not id_starts:  # every cell of the first row is {}: all rows must be the same bytes
        expected = (first_row + separator) * count
        return (count, columns) if data.startswith(memoryview(expected)[: hi - lo], lo) else None
    pieces: list[Iterable[bytes]] = []  # interleaved: ids, then the bytes up to the next id
    segment_start = 0
    for start, (j, audience_key) in sorted(id_starts.items()):
        width = lengths[j]
        ids = _SLICER.slices(data, lo + start, hi, period, width)
        joined = b"".join(ids)
        if len(ids) != count or joined.translate(None, _LOWER_HEX_BYTES):
            return None
        columns[j][audience_key] = joined
        pieces.append(repeat(first_row[segment_start:start], count))
        pieces.append(ids)
        segment_start = start + width
    # The bytes after the last id run into the next row's bytes before its first id.
    head = first_row[: min(id_starts)]
    tail = first_row[segment_start:]
    glue = tail + separator + head
    pieces.append(repeat(glue, count))
    rebuilt = b"".join(chain.from_iterable(zip(*pieces[1:], strict=True)))
    # `rebuilt` starts after the first row's head and ends with one glue too many.
    if len(rebuilt) - len(glue) + len(tail) + len(head) != hi - lo:
        return None
    if not data.startswith(head, lo):
        return None
    body_end = len(rebuilt) - len(glue) + len(tail)
    if not data.startswith(memoryview(rebuilt)[:body_end], lo + len(head)):
        return None
    return count, columns


class _IdSlicer:
    """Cuts the ids of one column out of a batch: data[start::period][:width], over and over.

    A program sends batches with the same layout again and again, so for a layout seen before
    this keeps an operator.itemgetter of the slices, which cuts them in one C loop: half the
    time of a list comprehension (measured), about 1.5 ms per 10,000-row column.
    """

    KEEP = 8  # layouts remembered; each costs ~0.6 MB of slice objects for 10,000 rows
    MIN_ROWS = 100  # below this the comprehension is as fast

    def __init__(self) -> None:
        self.getters: dict[tuple[int, int, int, int], itemgetter] = {}
        self.seen: dict[tuple[int, int, int, int], None] = {}

    def slices(self, data: bytes, start: int, stop: int, period: int, width: int) -> Sequence:
        key = (start, stop, period, width)
        getter = self.getters.get(key)
        if getter is None and key in self.seen and (stop - start) // period >= self.MIN_ROWS:
            # Second sighting: building the getter costs two comprehensions, so not on the first.
            getter = itemgetter(*[slice(s, s + width) for s in range(start, stop, period)])
            if len(self.getters) >= self.KEEP:
                del self.getters[next(iter(self.getters))]
            self.getters[key] = getter
        if getter is not None:
            return getter(data)
        self.seen[key] = None
        if len(self.seen) > 4 * self.KEEP:
            del self.seen[next(iter(self.seen))]
        return [data[s : s + width] for s in range(start, stop, period)]


_SLICER = _IdSlicer()


def _first_row_id_starts(
    first_row: bytes, lengths: list[int]
) -> dict[int, tuple[int, tuple[str, ...]]] | None:
    """Byte offset of each id value in the row -> (column, audience_ids), if the row is valid."""
    try:
        cells = orjson.loads(b"[" + first_row + b"]")
    except orjson.JSONDecodeError:
        return None
    if len(cells) != len(lengths):
        return None
    filled: list[tuple[int, str, tuple[str, ...]]] = []
    for j, cell in enumerate(cells):
        if type(cell) is not dict:
            return None
        if not cell:
            continue
        if cell.keys() != {"id", "audience_ids"}:
            return None
        ident, audience_ids = cell["id"], cell["audience_ids"]
        if type(ident) is not str or len(ident) != lengths[j] or not _LOWER_HEX.fullmatch(ident):
            return None
        if not _is_string_list(audience_ids) or not audience_ids:
            return None
        filled.append((j, ident, tuple(audience_ids)))
    starts = [match.end() for match in _ID_KEY.finditer(first_row)]
    if len(starts) != len(filled):
        return None
    result: dict[int, tuple[int, tuple[str, ...]]] = {}
    for start, (j, ident, audience_key) in zip(starts, filled, strict=True):
        end = start + lengths[j]
        if first_row[start:end] != ident.encode() or first_row[end : end + 1] != b'"':
            return None
        result[start] = (j, audience_key)
    return result


def _locate_batch_data(body: bytes) -> tuple[dict, int, int] | None:
    """(the body without batch_data, start, end) of batch_data's array text, when provable.

    Without escapes no string can hold a quote, so a match of `"batch_data":[` is a real key.
    The array's end is taken as the last "]" of the body; if batch_data is not the last key
    that guess is wrong, and the row checks in fast_extract fail on the extra bytes. Parsing
    the rest with null in the array's place checks the split.
    """
    if b"\\" in body:
        return None
    match = _BATCH_KEY.search(body)
    if match is None:
        return None
    start = match.end() - 1
    end = body.rfind(b"]") + 1
    if end <= start:
        return None
    # A second batch_data key outside the array would win in a full parse; inside the array
    # the row checks only let the name through as a string value.
    name = b'"batch_data"'
    if body.find(name, 0, match.start()) >= 0 or body.find(name, end) >= 0:
        return None
    try:
        head = orjson.loads(body[:start] + b"null" + body[end:])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(head, dict) or "batch_data" not in head or head["batch_data"] is not None:
        return None
    return head, start, end


def _strip(data: bytes, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and data[lo] in _JSON_SPACE:
        lo += 1
    while hi > lo and data[hi - 1] in _JSON_SPACE:
        hi -= 1
    return lo, hi


def _batch_rows(raw: object, max_rows: int) -> list[object]:
    if raw is None:
        raise param_error("batch_data: Missing data for required field.")
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise param_error("batch_data: the string is not a JSON-encoded array.") from None
    if type(raw) is not list:
        raise param_error("batch_data: must be an array of rows.")
    if not raw:
        raise param_error("batch_data: must contain at least one row.")
    if len(raw) > max_rows:
        raise ApiError(
            errors.TOO_MANY_IDS,
            f"batch_data: {len(raw)} rows exceed the limit of {max_rows} per request.",
        )
    return raw


def _is_string_list(value: object) -> bool:
    return type(value) is list and all(type(item) is str for item in value)
