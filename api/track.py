"""`/users/track` bodies into a TrackBatch: the models check the structure, users.tracking
normalizes what they accepted.

Braze's per-object semantics: a bad object is reported in `errors` (`input_array`, `index`) and
skipped, the others are written; a problem with the body itself (not an object, an array that is
not one or holds more than 75 objects, no object at all) refuses the request (TrackFatal).
/canvas/trigger/send builds its recipients' attributes into the same kind of body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from api.errors import by_item, track_fatal_message, track_object_message
from api.schemas import TrackRequest
from users.profile_fields import FieldError
from users.tracking import (
    ARRAYS,
    TrackBatch,
    TrackFatal,
    object_error,
    parse_activity_object,
    parse_attributes_object,
    parse_track_body,
)

_KINDS = {"events": "event", "purchases": "purchase"}


def parse_track(body: Any, *, default_country: str, now: dt.datetime) -> TrackBatch:
    """Validate a `/users/track` body and build its writes. Raises TrackFatal.

    The models are the contract, and they speak for every body with a problem. A body without
    one, the usual case, is read by users.tracking's own parser alone: on every body it gives
    the models' writes, errors and fatal message (tests/api/test_track_parsing.py holds the two
    to that), and skipping the models' pass over 75 objects saves a fifth of a create
    request's web CPU (docs/PERFORMANCE.md, issue 15's before and after).
    """
    try:
        batch = parse_track_body(body, default_country=default_country, now=now)
    except (TrackFatal, TypeError, ValueError, RecursionError):
        # TypeError and the others: what that parser cannot read at all (properties nested
        # past orjson's depth limit); the models say what is wrong with it.
        batch = None
    if batch is not None and not batch.errors:
        return batch
    return parse_track_with_models(body, default_country=default_country, now=now)


def parse_track_with_models(body: Any, *, default_country: str, now: dt.datetime) -> TrackBatch:
    """parse_track through the models: what the API answers for a body with a problem."""
    try:
        # One validation for the whole body: the models' instances are not used, the
        # normalizing code below reads the JSON as sent.
        TrackRequest.model_validate(body)
        bad: dict[tuple, list] = {}
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        fatal = [error for error in errors if len(error["loc"]) < 2]
        if fatal:
            raise TrackFatal(track_fatal_message(fatal[0])) from None
        bad = by_item(errors, 2)

    arrays = {name: body[name] for name in ARRAYS if body.get(name) is not None}
    batch = TrackBatch([], [], [], {name: len(items) for name, items in arrays.items()})
    for array, objects in arrays.items():
        for index, obj in enumerate(objects):
            problems = bad.get((array, index))
            if problems:
                message = track_object_message(
                    array, obj, problems, default_country=default_country
                )
                batch.errors.append(object_error(message, array, index))
                continue
            try:
                if array == "attributes":
                    batch.profile_writes.append(
                        parse_attributes_object(
                            obj, array=array, index=index, default_country=default_country
                        )
                    )
                else:
                    batch.activity_writes.append(
                        parse_activity_object(
                            obj,
                            array=array,
                            index=index,
                            kind=_KINDS[array],
                            default_country=default_country,
                            now=now,
                        )
                    )
            except FieldError as exc:
                # What only normalizing can tell: the email or phone that identifies the user
                # is not a valid one.
                batch.errors.append(object_error(str(exc), array, index))
    return batch
