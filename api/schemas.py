"""The REST API's request and response bodies as pydantic v2 models.

They are the API's structure checks (api/errors.py turns their ValidationErrors into Braze's
messages) and the source of /api/openapi.json's components (api/openapi.py). The models never
normalize: views keep working on the JSON as sent, and users/tracking.py, users/identifiers.py and
users/profile_fields.py do the normalizing after a model has accepted a value.

Every model is strict: JSON types are never coerced ("1" is not 1, 1 is not true). A field that
may be left out but must not be null is typed without None and defaults to None (defaults are
not validated); a field that may be null says `| None`. The field types and the cross-field
rules' plumbing are in api/fields.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypeAliasType

from api.fields import (
    NO_NUL,
    NOT_BLANK,
    RULE_ALIAS_EXISTING_ONLY,
    RULE_ATTRIBUTE_NAME,
    RULE_ATTRIBUTES_REQUIRED,
    RULE_BROADCAST_WITH_RECIPIENTS,
    RULE_IDENTIFIER_IN_ATTRIBUTES,
    RULE_MISSING_IDENTIFIER,
    RULE_NO_IDENTIFIER,
    RULE_NO_OBJECTS,
    RULE_ONE_DELETE_KEY,
    RULE_ONE_IDENTIFIER,
    RULE_PROPERTIES_TWICE,
    RULE_RECIPIENT_IDENTIFIER,
    RULE_RECIPIENTS_REQUIRED,
    RULE_TOO_MANY_IDS,
    BrazeId,
    ExternalId,
    Identifier,
    Integer64,
    Properties,
    Time,
    ad_id,
    any_case,
    error_details,
    json_size,
    rule,
    standard,
    text,
    with_rules,
)
from users.profile_fields import (
    ARRAY_MAX_ITEMS,
    COUNTRY_CODES,
    EMAIL_RAW_MAX_LENGTH,
    LANGUAGE_CODES,
    PHONE_RAW_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    FieldError,
    clean_attribute_name,
    time_zones,
)
from users.selectors.profiles import EXPORT_FIELDS
from users.tracking import (
    ARRAYS,
    MAX_DEVICES_PER_OBJECT,
    MAX_OBJECTS_PER_ARRAY,
    PRIMARY_IDENTIFIERS,
    PURCHASE_MAX_QUANTITY,
)

# Braze: "Up to 50 external_ids, user_aliases, or braze_ids can be included in a single request."
MAX_IDS_PER_REQUEST = 50
# Braze: "up to 50 recipients per request"; entry properties at most 50 KB.
MAX_RECIPIENTS = 50
MAX_ENTRY_PROPERTIES_BYTES = 50 * 1024
DELETE_KEYS = ("external_ids", "user_aliases", "braze_ids", "email_addresses", "phone_numbers")
EXPORT_SINGLE_KEYS = ("braze_id", "device_id", "email_address", "phone")

# --- shared objects ------------------------------------------------------------------------------


class Model(BaseModel):
    # JSON types as sent: "1" is not 1, 1 is not true.
    model_config = ConfigDict(strict=True)


class ObjectError(Model):
    """A skipped object: why, in which array, at which index."""

    type: str
    input_array: str
    index: int = Field(ge=0)


class Error(Model):
    """Braze's fatal-error envelope: nothing was written."""

    message: str
    errors: list[ObjectError]


class UserAlias(Model):
    alias_name: Identifier
    alias_label: Identifier


# --- /users/track --------------------------------------------------------------------------------


# A custom attribute value's kind, by its JSON type (a dict look-up: it runs for every value).
_KINDS = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _scalar_kind(value: Any) -> str | None:
    # None for null, arrays and objects: union_tag_not_found.
    return _KINDS.get(type(value))


Scalar = TypeAliasType(
    "Scalar",
    Annotated[
        Annotated[text(), Tag("string")]
        | Annotated[StrictBool, Tag("boolean")]
        | Annotated[Integer64, Tag("integer")]
        | Annotated[StrictFloat, Tag("number")],
        Discriminator(_scalar_kind),
    ],
)
ScalarArray = list[Scalar]


class Increment(Model):
    model_config = ConfigDict(extra="forbid")

    inc: Integer64


class AddRemove(Model):
    """Adds to and removes from an array attribute (a set: duplicates are dropped)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    add: ScalarArray = []
    remove: ScalarArray = []


_CUSTOM_KINDS = {**_KINDS, type(None): "null", list: "array"}


def _custom_kind(value: Any) -> str | None:
    kind = _CUSTOM_KINDS.get(type(value))
    if kind is None and type(value) is dict:
        keys = value.keys()
        if keys == {"inc"}:
            return "increment"
        if keys and keys <= {"add", "remove"}:
            return "add-remove"
    return kind  # None for any other object: nested objects are not supported


CustomAttributeValue = TypeAliasType(
    "CustomAttributeValue",
    Annotated[
        Annotated[text(), Tag("string")]
        | Annotated[StrictBool, Tag("boolean")]
        | Annotated[Integer64, Tag("integer")]
        | Annotated[StrictFloat, Tag("number")]
        | Annotated[None, Tag("null")]
        | Annotated[ScalarArray, Tag("array")]
        | Annotated[Increment, Tag("increment")]
        | Annotated[AddRemove, Tag("add-remove")],
        Discriminator(_custom_kind),
        Field(
            description=(
                "A custom attribute: string, number, boolean, array of those (a set, truncated "
                f'to {ARRAY_MAX_ITEMS} items), null to remove it, {{"inc": n}}, or '
                '{"add": [...], "remove": [...]}. Nested objects are not supported.'
            )
        ),
    ],
)


class Device(Model):
    """braze_sync extension (not Braze): a device upserted by device_id. Braze fills devices from
    its SDKs; here they come through /users/track."""

    model_config = ConfigDict(extra="forbid")

    device_id: Identifier
    os: text(64) | None = None
    model: text(128) | None = None
    idfa: ad_id("iOS IDFA (UUID) or its SHA-256.") | None = None
    google_ad_id: ad_id("Android GAID (UUID) or its SHA-256.") | None = None
    ad_tracking_enabled: StrictBool | None = None


Ignored = Annotated[Any, Field(description="Accepted for compatibility with Braze; not stored.")]
Email = text(EMAIL_RAW_MAX_LENGTH, description="Kept as given; hashed when it is an email.")
Phone = text(PHONE_RAW_MAX_LENGTH, description="E.164 recommended.")
Country = standard(
    "country", pattern=any_case(COUNTRY_CODES), description="ISO 3166-1 alpha-2, either case"
)
Language = standard(
    "language", pattern=any_case(LANGUAGE_CODES), description="ISO 639-1, either case"
)
_SUBSCRIPTION = {"enum": ["opted_in", "subscribed", "unsubscribed"]}


class Identified(Model):
    """The identifier of an attributes object, event or purchase: one of external_id, user_alias
    and braze_id, else a valid email, else a valid phone number."""

    external_id: ExternalId = None
    user_alias: UserAlias = None
    braze_id: BrazeId = None
    update_existing_only: StrictBool | None = Field(None, alias="_update_existing_only")

    @classmethod
    def _identifier_rules(cls, data: dict) -> list[InitErrorDetails]:
        # Runs for every object: sums of booleans, not a generator.
        given = ("external_id" in data) + ("user_alias" in data) + ("braze_id" in data)
        if given == 1:
            return []
        if given > 1:
            message = "only one of external_id, user_alias or braze_id may be given"
            return [rule(RULE_ONE_IDENTIFIER, message, value=data)]
        if data.get("email") is None and data.get("phone") is None:
            message = "missing identifier: one of external_id, user_alias, braze_id, email or phone"
            return [rule(RULE_MISSING_IDENTIFIER, message, value=data)]
        return []


def _identifier_choices(json_schema: dict) -> None:
    json_schema["anyOf"] = [
        {"required": [name]} for name in (*PRIMARY_IDENTIFIERS, "email", "phone")
    ]


class UserAttributes(Identified):
    """Braze user attributes object. Identified by external_id, user_alias or braze_id (at most
    one), else by email (which must then be valid), else phone (must be valid). Other keys are
    custom attributes."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_identifier_choices)
    __pydantic_extra__: dict[str, CustomAttributeValue]

    push_token_import: Ignored = None
    # Braze profile fields that only make sense with Braze's SDKs or channels: accepted so that
    # Braze clients keep working, not stored (users.tracking.IGNORED_FIELDS).
    push_tokens: Ignored = None
    subscription_groups: Ignored = None
    current_location: Ignored = None
    date_of_first_session: Ignored = None
    date_of_last_session: Ignored = None
    facebook: Ignored = None
    twitter: Ignored = None
    image_url: Ignored = None
    marked_email_as_spam_at: Ignored = None
    email_open_tracking_disabled: Ignored = None
    email_click_tracking_disabled: Ignored = None
    app_id: Ignored = None
    email: Email | None = None
    phone: Phone | None = None
    first_name: text() | None = None
    last_name: text() | None = None
    home_city: text() | None = None
    country: Country | None = None
    language: Language | None = None
    dob: standard("dob", format="date") | None = None
    gender: standard("gender", pattern="^[MFONPmfonp]$") | None = None
    time_zone: standard("time_zone", enum=sorted(time_zones())) | None = None
    email_subscribe: standard("email_subscribe", **_SUBSCRIPTION) | None = None
    push_subscribe: standard("push_subscribe", **_SUBSCRIPTION) | None = None
    devices: (
        Annotated[
            list[Device],
            Field(
                max_length=MAX_DEVICES_PER_OBJECT,
                description="braze_sync extension; null removes every device.",
            ),
        ]
        | None
    ) = None

    @model_validator(mode="wrap")
    @classmethod
    def _rules(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        rules = cls._identifier_rules(data)
        try:
            validated = handler(data)
        except ValidationError as exc:
            names = [key for key in data if key not in ATTRIBUTE_FIELDS]
            raise ValidationError.from_exception_data(
                cls.__name__, [*error_details(exc), *rules, *_attribute_names(names)]
            ) from None
        rules.extend(_attribute_names(validated.__pydantic_extra__))
        if rules:
            raise ValidationError.from_exception_data(cls.__name__, rules)
        return validated


def _attribute_names(names) -> list[InitErrorDetails]:
    errors = []
    for name in names:
        # Most names pass the cheap test; the full check says why one does not.
        if not 0 < len(name) <= TEXT_MAX_LENGTH or "\x00" in name or name.isspace():
            try:
                clean_attribute_name(name)
            except FieldError as exc:
                errors.append(rule(RULE_ATTRIBUTE_NAME, str(exc), (name,), name))
    return errors


ATTRIBUTE_FIELDS = frozenset(
    field.alias or name for name, field in UserAttributes.model_fields.items()
)


class Activity(Identified):
    """An event or a purchase. Its user is named as in an attributes object; the email or phone
    that does not identify it is ignored, like every other key not listed here."""

    model_config = ConfigDict(json_schema_extra=_identifier_choices)

    email: text(EMAIL_RAW_MAX_LENGTH) | None = None
    phone: text() | None = None
    app_id: text() | None = None
    time: Time
    properties: Properties | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _rules(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        rules = cls._identifier_rules(data)
        # Only the identifying one is read (users.tracking.parse_identifier): leave the other out.
        if any(key in data for key in PRIMARY_IDENTIFIERS):
            data = {k: v for k, v in data.items() if k != "email" and k != "phone"}
        elif data.get("email") is not None:
            data = {k: v for k, v in data.items() if k != "phone"}
        return with_rules(cls, data, handler, rules)


class Event(Activity):
    name: Identifier


def _currency(value: str) -> str:
    if not (len(value) == 3 and value.isalpha()):
        raise PydanticCustomError("currency", "not a currency code")
    return value


class Purchase(Activity):
    product_id: Identifier
    # Three letters of any alphabet (str.isalpha), documented as ISO 4217's ASCII ones.
    currency: Annotated[
        StrictStr,
        AfterValidator(_currency),
        WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{3}$"}),
    ]
    price: Annotated[StrictFloat, Field(allow_inf_nan=False)]
    quantity: Annotated[StrictInt, Field(ge=1, le=PURCHASE_MAX_QUANTITY)] = 1


def _objects(model: type[BaseModel]) -> Any:
    return Annotated[list[model], Field(max_length=MAX_OBJECTS_PER_ARRAY)] | None


def _track_arrays(json_schema: dict) -> None:
    json_schema["anyOf"] = [
        {"required": [name], "properties": {name: {"type": "array", "minItems": 1}}}
        for name in ARRAYS
    ]


class TrackRequest(Model):
    """Up to 75 objects per array; at least one object."""

    model_config = ConfigDict(json_schema_extra=_track_arrays)

    attributes: _objects(UserAttributes) = None
    events: _objects(Event) = None
    purchases: _objects(Purchase) = None

    @model_validator(mode="after")
    def _some_objects(self) -> TrackRequest:
        if not (self.attributes or self.events or self.purchases):
            raise PydanticCustomError(
                RULE_NO_OBJECTS, "Received no attributes, events, or purchases"
            )
        return self


class TrackResponse(Model):
    message: Literal["success"]
    # Absent when the array was not sent (never null): None only makes the field optional.
    attributes_processed: Annotated[int, Field(ge=0)] = None
    events_processed: Annotated[int, Field(ge=0)] = None
    purchases_processed: Annotated[int, Field(ge=0)] = None
    errors: list[ObjectError] = None


# --- /users/delete -------------------------------------------------------------------------------

Prioritization = TypeAliasType(
    "Prioritization",
    Annotated[
        list[Literal["identified", "unidentified", "most_recently_updated"]],
        Field(min_length=1),
    ],
)


class EmailAddress(Model):
    email: Annotated[Identifier, Field(json_schema_extra={"format": "email"})]
    prioritization: Prioritization


class PhoneNumber(Model):
    phone: Identifier
    prioritization: Prioritization


def _ids(item: Any) -> Any:
    return Annotated[list[item], Field(min_length=1, max_length=MAX_IDS_PER_REQUEST)] | None


def _one_delete_key(json_schema: dict) -> None:
    json_schema["oneOf"] = [
        {"required": [key], "properties": {key: {"type": "array"}}} for key in DELETE_KEYS
    ]


class DeleteRequest(Model):
    """Exactly one of the arrays, 1 to 50 items."""

    model_config = ConfigDict(json_schema_extra=_one_delete_key)

    external_ids: _ids(ExternalId) = None
    user_aliases: _ids(UserAlias) = None
    braze_ids: _ids(BrazeId) = None
    email_addresses: _ids(EmailAddress) = None
    phone_numbers: _ids(PhoneNumber) = None

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: Any) -> Any:
        # Before the arrays' own checks, as Braze answers it.
        if isinstance(data, dict) and sum(data.get(key) is not None for key in DELETE_KEYS) != 1:
            raise PydanticCustomError(
                RULE_ONE_DELETE_KEY, f"Provide exactly one of: {', '.join(DELETE_KEYS)}"
            )
        return data

    def given(self) -> str:
        """The name of the one array sent."""
        return next(key for key in DELETE_KEYS if getattr(self, key) is not None)


class DeleteResponse(Model):
    message: Literal["success"]
    deleted: int = Field(ge=0)


# --- /users/export/ids ---------------------------------------------------------------------------

ExportField = Literal[tuple(sorted(EXPORT_FIELDS))]


def _export_choices(json_schema: dict) -> None:
    json_schema["anyOf"] = [
        {"required": ["external_ids"], "properties": {"external_ids": {"minItems": 1}}},
        {"required": ["user_aliases"], "properties": {"user_aliases": {"minItems": 1}}},
        *(
            {"required": [key], "properties": {key: {"type": "string"}}}
            for key in EXPORT_SINGLE_KEYS
        ),
    ]


def _exported(item: Any) -> Any:
    return Annotated[list[item], Field(json_schema_extra={"maxItems": MAX_IDS_PER_REQUEST})] | None


class ExportRequest(Model):
    """At least one identifier; external_ids and user_aliases hold 50 at most together."""

    model_config = ConfigDict(json_schema_extra=_export_choices)

    # 50 at most each, documented; the rule counts both (RULE_TOO_MANY_IDS).
    external_ids: _exported(ExternalId) = None
    user_aliases: _exported(UserAlias) = None
    fields_to_export: list[ExportField] | None = None
    braze_id: Identifier | None = None
    device_id: Identifier | None = None
    email_address: Identifier | None = None
    phone: Identifier | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _rules(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        rules = []
        if isinstance(data, dict):
            lists = [data.get("external_ids"), data.get("user_aliases")]
            if all(isinstance(v, list | None) for v in lists):
                if sum(len(v or ()) for v in lists) > MAX_IDS_PER_REQUEST:
                    rules.append(
                        rule(
                            RULE_TOO_MANY_IDS,
                            "The max number of external_ids and aliases per request was "
                            f"exceeded: at most {MAX_IDS_PER_REQUEST}",
                            value=data,
                        )
                    )
            if not any(data.get(key) for key in ("external_ids", "user_aliases")) and all(
                data.get(key) is None for key in EXPORT_SINGLE_KEYS
            ):
                rules.append(
                    rule(
                        RULE_NO_IDENTIFIER,
                        "Provide at least one of: external_ids, user_aliases, braze_id, "
                        "device_id, email_address, phone",
                        value=data,
                    )
                )
        return with_rules(cls, data, handler, rules)


class ExportedActivity(Model):
    name: str
    first: dt.datetime
    last: dt.datetime
    count: int


class ExportedDevice(Model):
    device_id: str
    model: str = None
    os: str = None
    idfa: str = None
    google_ad_id: str = None
    ad_tracking_enabled: bool = None


class ExportedUser(Model):
    """Braze's user export object; empty fields are left out (never null)."""

    external_id: str = None
    braze_id: str = None
    user_aliases: list[UserAlias] = None
    first_name: str = None
    last_name: str = None
    email: str = None
    phone: str = None
    dob: dt.date = None
    home_city: str = None
    country: str = None
    language: str = None
    time_zone: str = None
    gender: str = None
    push_subscribe: str = None
    email_subscribe: str = None
    created_at: dt.datetime = None
    custom_attributes: dict[str, Any] = None
    custom_events: list[ExportedActivity] = None
    purchases: list[ExportedActivity] = None
    devices: list[ExportedDevice] = None


class ExportResponse(Model):
    message: Literal["success"]
    users: list[ExportedUser]
    invalid_user_ids: list[str] = None


# --- /canvas/trigger/send ------------------------------------------------------------------------


def _no_nul_inside(value: Any) -> bool:
    """No NUL character in any key or string, at any depth (walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _entry_properties(value: dict) -> dict:
    size = json_size(value)
    if size is None:
        raise PydanticCustomError("properties_depth", "nested too deeply")
    if size > MAX_ENTRY_PROPERTIES_BYTES:
        raise PydanticCustomError("properties_size", "larger than 50 KB")
    if not _no_nul_inside(value):
        # PostgreSQL's jsonb refuses \u0000 (a 500 otherwise); SQLite would store it.
        raise PydanticCustomError("properties_nul", "holds a NUL character")
    return value


EntryProperties = Annotated[
    dict[str, Any],
    AfterValidator(_entry_properties),
    Field(description="Entry properties (at most 50 KB), readable by the Canvas's steps."),
]


def _properties_twice(data: dict) -> list[InitErrorDetails]:
    if "canvas_entry_properties" in data and "context" in data:
        return [rule(RULE_PROPERTIES_TWICE, "context or canvas_entry_properties", value=data)]
    return []


NoNulStr = Annotated[StrictStr, StringConstraints(pattern=NO_NUL)]


class RecipientAlias(Model):
    """A recipient's user_alias, looked up as given (blank names find nobody)."""

    alias_name: NoNulStr
    alias_label: NoNulStr


# Looked up as given (no length limit), but neither blank nor holding NUL.
ExternalUserId = Annotated[
    StrictStr, StringConstraints(pattern=NOT_BLANK), Field(json_schema_extra={"minLength": 1})
]


class CanvasTriggerRecipient(Model):
    external_user_id: ExternalUserId | None = None
    user_alias: RecipientAlias | None = None
    send_to_existing_only: StrictBool = True
    attributes: dict[str, Any] | None = None
    canvas_entry_properties: EntryProperties | None = None
    context: EntryProperties | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _rules(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        rules = []
        if isinstance(data, dict):
            named = [key for key in ("external_user_id", "user_alias") if data.get(key) is not None]
            existing_only = data.get("send_to_existing_only", True)
            if len(named) != 1:
                rules.append(
                    rule(RULE_RECIPIENT_IDENTIFIER, "external_user_id or user_alias", value=data)
                )
            elif existing_only is False:
                if named == ["user_alias"]:
                    rules.append(
                        rule(RULE_ALIAS_EXISTING_ONLY, "needs external_user_id", value=data)
                    )
                if not data.get("attributes"):
                    rules.append(rule(RULE_ATTRIBUTES_REQUIRED, "needs attributes", value=data))
            # The recipient's identifier names the user; one inside `attributes` would win the
            # merge and rename another profile.
            attributes = data.get("attributes")
            if isinstance(attributes, dict) and set(attributes) & set(PRIMARY_IDENTIFIERS):
                rules.append(
                    rule(RULE_IDENTIFIER_IN_ATTRIBUTES, "identifier in attributes", value=data)
                )
            rules.extend(_properties_twice(data))
        return with_rules(cls, data, handler, rules)


Recipients = Annotated[list[CanvasTriggerRecipient], Field(min_length=1, max_length=MAX_RECIPIENTS)]


def _refuse(value: Any) -> Any:
    raise PydanticCustomError("audience", "not supported")


class CanvasTriggerRequest(Model):
    # Braze documents a string; an integer id is accepted too.
    canvas_id: Annotated[
        Annotated[StrictStr, StringConstraints(min_length=1)] | StrictInt,
        Field(union_mode="left_to_right"),
        WithJsonSchema({"type": "string", "description": "The Canvas id (Entry Schedule)."}),
    ]
    canvas_entry_properties: EntryProperties | None = None
    context: EntryProperties | None = None
    broadcast: StrictBool = False
    # Braze's connected audience: refused, the Canvas's Target Audience applies to every trigger.
    audience: SkipJsonSchema[Annotated[Any, AfterValidator(_refuse)]] = None
    recipients: Recipients | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _rules(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        rules = []
        if isinstance(data, dict):
            rules.extend(_properties_twice(data))
            broadcast = data.get("broadcast", False)
            recipients = data.get("recipients")
            if broadcast is True and recipients is not None:
                rules.append(
                    rule(RULE_BROADCAST_WITH_RECIPIENTS, "broadcast or recipients", value=data)
                )
            elif broadcast is False and recipients is None:
                rules.append(rule(RULE_RECIPIENTS_REQUIRED, "needs recipients", value=data))
        return with_rules(cls, data, handler, rules)


class CanvasTriggerResponse(Model):
    dispatch_id: str
    message: Literal["success"]
    notice: str = None
