"""Field types and rule plumbing for the request models (api/schemas.py).

The types say what a value must be (strict JSON types, lengths, no NUL character, identifiers
not blank) with pydantic's own constraints where it has them, so that the document states them
too; checks that need the normalizing code (a country code, a date, an ISO 8601 time) call it
and pass its message on (FIELD_ERROR). Rules that span fields are PydanticCustomErrors whose
type names the rule (RULE_*), raised together with the fields' errors (`with_rules`), so that
api/errors.py can put all of them in the order Braze reports them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, get_args

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticKnownError
from pydantic_core.core_schema import ErrorType

from users.profile_fields import (
    AD_ID_RAW_MAX_LENGTH,
    EXTERNAL_ID_MAX_LENGTH,
    INT_MAX,
    INT_MIN,
    STANDARD_FIELDS,
    TEXT_MAX_LENGTH,
    FieldError,
)
from users.tracking import PROPERTIES_MAX_BYTES, parse_time

# Strings we store hold no NUL character (PostgreSQL refuses it). Identifiers are not blank
# either: Python's str.strip() removes Unicode White_Space and \x1c-\x1f, exactly what
# [\s\x1c-\x1f] matches in pydantic's (Rust) regex engine and in Python's `re`.
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x1c-\x1f\x00][^\x00]*$"

# Cross-field rules: the type of the PydanticCustomError each raises.
RULE_PREFIX = "rule_"
RULE_ONE_IDENTIFIER = "rule_one_identifier"
RULE_MISSING_IDENTIFIER = "rule_missing_identifier"
RULE_ATTRIBUTE_NAME = "rule_attribute_name"
RULE_NO_OBJECTS = "rule_no_objects"
RULE_ONE_DELETE_KEY = "rule_one_delete_key"
RULE_TOO_MANY_IDS = "rule_too_many_ids"
RULE_NO_IDENTIFIER = "rule_no_identifier"
RULE_PROPERTIES_TWICE = "rule_properties_twice"
RULE_BROADCAST_WITH_RECIPIENTS = "rule_broadcast_with_recipients"
RULE_RECIPIENTS_REQUIRED = "rule_recipients_required"
RULE_RECIPIENT_IDENTIFIER = "rule_recipient_identifier"
RULE_ALIAS_EXISTING_ONLY = "rule_alias_existing_only"
RULE_ATTRIBUTES_REQUIRED = "rule_attributes_required"
RULE_IDENTIFIER_IN_ATTRIBUTES = "rule_identifier_in_attributes"
# A value the normalizing code refused; the message is Braze's, ready to show.
FIELD_ERROR = "field_error"

_KNOWN_ERROR_TYPES = frozenset(get_args(ErrorType))


def field_error(message: str) -> PydanticCustomError:
    return PydanticCustomError(FIELD_ERROR, message)


def rule(kind: str, message: str, loc: tuple = (), value: Any = None) -> InitErrorDetails:
    """A broken rule (RULE_*), located at `loc` of the object validated."""
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


def with_rules(
    model: type[BaseModel], data: Any, handler: ValidatorFunctionWrapHandler, rules: list
) -> Any:
    """Validate `data` and report the broken `rules` (InitErrorDetails) along with the fields'
    errors: one ValidationError holding all of them."""
    try:
        validated = handler(data)
    except ValidationError as exc:
        raise ValidationError.from_exception_data(
            model.__name__, [*error_details(exc), *rules]
        ) from None
    if rules:
        raise ValidationError.from_exception_data(model.__name__, rules)
    return validated


def error_details(exc: ValidationError) -> list[InitErrorDetails]:
    """A ValidationError's errors, in the form a new ValidationError is built from."""
    details = []
    for error in exc.errors(include_url=False):
        kind = error["type"]
        if kind not in _KNOWN_ERROR_TYPES:
            kind = PydanticCustomError(kind, error["msg"])
        detail = InitErrorDetails(type=kind, loc=error["loc"], input=error["input"])
        if "ctx" in error and isinstance(kind, str):
            detail["ctx"] = error["ctx"]
        details.append(detail)
    return details


# --- types ---------------------------------------------------------------------------------------


def text(max_length: int = TEXT_MAX_LENGTH, **schema: Any) -> Any:
    """A string we store: at most `max_length` characters, no NUL."""
    return Annotated[
        StrictStr,
        StringConstraints(max_length=max_length, pattern=NO_NUL),
        Field(json_schema_extra=schema or None),
    ]


def identifier(max_length: int = TEXT_MAX_LENGTH) -> Any:
    """An identifier: a string we store that is not blank."""
    return Annotated[
        StrictStr, StringConstraints(min_length=1, max_length=max_length, pattern=NOT_BLANK)
    ]


def any_case(codes) -> str:
    """A pattern matching exactly these codes, in either case."""
    alternatives = "|".join(
        "".join(f"[{c.upper()}{c.lower()}]" for c in code) for code in sorted(codes)
    )
    return f"^(?:{alternatives})$"


def standard(name: str, **schema: Any) -> Any:
    """A standard profile field with a vocabulary or a format: the string checks here, the
    vocabulary by users.profile_fields (shared with the CSV import), with its message."""
    setter = STANDARD_FIELDS[name]

    def check(value: str) -> str:
        try:
            setter(value, "")
        except FieldError as exc:
            raise field_error(str(exc)) from None
        return value

    return Annotated[text(**schema), AfterValidator(check)]


def _check_ad_id(value: str) -> str:
    # A blank ad id clears it, whatever its length (users/tracking.py, _ad_id_columns).
    if value.strip():
        if len(value) > AD_ID_RAW_MAX_LENGTH:
            raise PydanticKnownError("string_too_long", {"max_length": AD_ID_RAW_MAX_LENGTH})
        if "\x00" in value:
            raise PydanticKnownError("string_pattern_mismatch", {"pattern": NO_NUL})
    return value


def ad_id(description: str) -> Any:
    """An IDFA or GAID as sent: blank clears it, else a string we store of 64 characters."""
    return Annotated[
        StrictStr,
        AfterValidator(_check_ad_id),
        Field(
            json_schema_extra={
                "maxLength": AD_ID_RAW_MAX_LENGTH,
                "pattern": NO_NUL,
                "description": f"{description} Blank or null clears it.",
            }
        ),
    ]


ExternalId = identifier(EXTERNAL_ID_MAX_LENGTH)
BrazeId = identifier(64)
Identifier = identifier()
Integer64 = Annotated[StrictInt, Field(ge=INT_MIN, le=INT_MAX)]
_FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)


def _iso_time(value: str) -> str:
    # users.tracking.parse_time's refusal is all that matters here (it moves future times to
    # `now`; the normalizing code computes the moment again).
    try:
        parse_time(value, field="time", now=_FAR_FUTURE)
    except FieldError as exc:
        raise field_error(str(exc)) from None
    return value


Time = Annotated[
    text(64, format="date-time", description="ISO 8601; no offset means UTC."),
    AfterValidator(_iso_time),
]


def json_size(value: Any) -> int | None:
    """The size of `value` as JSON, in bytes; None when it is nested deeper than orjson writes
    (254 levels: valid JSON, which orjson reads up to 1024 deep)."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return None


def _properties_size(value: dict) -> dict:
    size = json_size(value)
    if size is None:
        raise field_error("'properties' is nested too deeply")
    if size > PROPERTIES_MAX_BYTES:
        raise field_error("'properties' is larger than 50 KB")
    return value


Properties = Annotated[dict[str, Any], AfterValidator(_properties_size)]
