"""Fault injection: what the fault panel and POST /_sandbox/faults configure.

Each request to an endpoint in `endpoints` first takes the next entry of `script` (one-shot
faults, for deterministic tests), else draws each probability in FAULT_KINDS order.

Two families: failures (a code, a gateway error, a timeout; the request is not applied, except
by `timeout`) and malformed answers (MALFORMED_KINDS: the request is handled as usual, then its
answer is garbled on the way out), which test how much the client trusts TikTok's answers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import orjson

# Answers that are HTTP 200 but not what TikTok's contract promises (docs/SANDBOX.md).
MALFORMED_KINDS = (
    "not_json",
    "data_not_object",
    "bad_ids",
    "long_strings",
    "endless_pages",
    "huge_body",
)
# Kinds of fault, in the order they are drawn.
FAULT_KINDS = ("40100", "50000", "51001", "http_502", "http_504", "timeout", *MALFORMED_KINDS)
FAULT_LABELS = {
    "40100": "Code 40100 (rate limited)",
    "50000": "Code 50000 (system error)",
    "51001": "Code 51001 (internal timeout)",
    "http_502": "HTTP 502 Bad Gateway",
    "http_504": "HTTP 504 Gateway Timeout",
    "timeout": "Timeout (applied, then no answer)",
    "not_json": "Malformed: a body cut short (not JSON)",
    "data_not_object": "Malformed: code 0 with data an array",
    "bad_ids": "Malformed: audience and advertiser ids that are not digits",
    "long_strings": "Malformed: names, currency and time zone 1,000 characters long",
    "endless_pages": "Malformed: page_info.total_page 1,000,000",
    "huge_body": "Malformed: a 16 MiB answer",
}
# What the malformed kinds put in an answer (docs/SANDBOX.md "Fault injection").
# An id that is not digits, and would break out of a JSON string pasted together by hand.
BAD_ID_SUFFIX = '"],"x":["'
LONG_STRING_LENGTH = 1000
# The string fields long_strings lengthens: everything the product stores in a sized column.
LONG_STRING_FIELDS = frozenset(
    {"name", "advertiser_name", "display_name", "currency", "timezone", "display_timezone"}
)
ENDLESS_TOTAL_PAGE = 1_000_000
HUGE_BODY_BYTES = 16 * 1024 * 1024
# A script entry that lets one request through untouched.
NO_FAULT = "none"
DEFAULT_ENDPOINTS = ("/segment/mapping/",)
ALL_ENDPOINTS = "*"


@dataclass
class Faults:
    probabilities: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 0.0))
    latency_ms: int = 0
    # How long a "timeout" holds the answer before giving up with HTTP 504.
    timeout_seconds: float = 30.0
    # A new audience answers mappings with 40002 "being processed" for this long (§5.1).
    audience_not_ready_seconds: float = 0.0
    # Overrides TIKTOK_SANDBOX_QPS_LIMIT while set.
    qps_limit: int | None = None
    endpoints: list[str] = field(default_factory=lambda: list(DEFAULT_ENDPOINTS))
    script: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def applies_to(self, endpoint: str) -> bool:
        return ALL_ENDPOINTS in self.endpoints or endpoint in self.endpoints

    def draw(self, rng: random.Random) -> str | None:
        if self.script:
            kind = self.script.pop(0)
            return None if kind == NO_FAULT else kind
        for kind in FAULT_KINDS:
            probability = self.probabilities.get(kind, 0.0)
            if probability > 0 and rng.random() < probability:
                return kind
        return None

    def updated(self, changes: dict) -> Faults:
        """A copy with `changes` merged in; ValueError says what is wrong."""
        merged = self.to_dict()
        unknown = set(changes) - set(merged)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        if "probabilities" in changes:
            probabilities = changes["probabilities"]
            if not isinstance(probabilities, dict) or set(probabilities) - set(FAULT_KINDS):
                raise ValueError(f"probabilities: keys must be among {', '.join(FAULT_KINDS)}")
            merged["probabilities"] = {**merged["probabilities"], **probabilities}
            changes = {k: v for k, v in changes.items() if k != "probabilities"}
        merged.update(changes)
        return Faults.from_dict(merged)

    @classmethod
    def from_dict(cls, data: dict) -> Faults:
        probabilities = {kind: float(data["probabilities"].get(kind, 0.0)) for kind in FAULT_KINDS}
        for kind, value in probabilities.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"probabilities.{kind}: must be between 0 and 1")
        qps_limit = data.get("qps_limit")
        if qps_limit is not None and (not isinstance(qps_limit, int) or qps_limit < 1):
            raise ValueError("qps_limit: must be a positive integer or null")
        script = list(data.get("script") or [])
        for kind in script:
            if kind not in FAULT_KINDS and kind != NO_FAULT:
                raise ValueError(f"script: {kind!r} is not one of {', '.join(FAULT_KINDS)}, none")
        endpoints = list(data.get("endpoints") or [])
        for endpoint in endpoints:
            if not isinstance(endpoint, str) or not (
                endpoint == ALL_ENDPOINTS or (endpoint.startswith("/") and endpoint.endswith("/"))
            ):
                raise ValueError('endpoints: use paths like "/segment/mapping/" or "*"')
        faults = cls(
            probabilities=probabilities,
            latency_ms=int(data.get("latency_ms") or 0),
            timeout_seconds=float(data.get("timeout_seconds", 30.0)),
            audience_not_ready_seconds=float(data.get("audience_not_ready_seconds") or 0.0),
            qps_limit=qps_limit,
            endpoints=endpoints,
            script=script,
        )
        if faults.latency_ms < 0 or faults.timeout_seconds < 0:
            raise ValueError("latency_ms and timeout_seconds must not be negative")
        if faults.audience_not_ready_seconds < 0:
            raise ValueError("audience_not_ready_seconds must not be negative")
        return faults


# -- malformed answers ------------------------------------------------------------------------


def malformed_body(kind: str, envelope: dict) -> bytes | Iterator[bytes]:
    """The body a malformed fault sends instead of `envelope`, the request's real answer.

    `huge_body` is an iterator (streamed, never held in memory); the others are bytes.
    """
    if kind == "not_json":
        whole = orjson.dumps(envelope)
        return whole[: len(whole) // 2]  # cut short: no longer JSON
    if kind == "data_not_object":
        return orjson.dumps({**envelope, "code": 0, "message": "OK", "data": [envelope["data"]]})
    if kind == "bad_ids":
        return orjson.dumps({**envelope, "data": _rewrite(envelope["data"], _bad_id)})
    if kind == "long_strings":
        return orjson.dumps({**envelope, "data": _rewrite(envelope["data"], _long_string)})
    if kind == "endless_pages":
        return orjson.dumps({**envelope, "data": _rewrite(envelope["data"], _endless_pages)})
    if kind == "huge_body":
        return _huge(envelope)
    raise ValueError(f"{kind!r} is not a malformed-answer fault")


def _rewrite(value: object, change) -> object:
    """A copy of `value` with change(key, item) applied to every key of every nested object."""
    if isinstance(value, dict):
        return {key: change(key, _rewrite(item, change)) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite(item, change) for item in value]
    return value


def _bad_id(key: str, value: object) -> object:
    if key in ("audience_id", "advertiser_id") and isinstance(value, str):
        return value + BAD_ID_SUFFIX
    if key == "advertiser_ids" and isinstance(value, list):
        return [f"{item}{BAD_ID_SUFFIX}" for item in value]
    return value


def _long_string(key: str, value: object) -> object:
    if key in LONG_STRING_FIELDS and isinstance(value, str):
        return (((value or key) + " ") * LONG_STRING_LENGTH)[:LONG_STRING_LENGTH]
    return value


def _endless_pages(key: str, value: object) -> object:
    if key == "page_info" and isinstance(value, dict):
        page_size = value.get("page_size") or 10
        return {
            **value,
            "total_page": ENDLESS_TOTAL_PAGE,
            "total_number": ENDLESS_TOTAL_PAGE * page_size,
        }
    return value


def _huge(envelope: dict) -> Iterator[bytes]:
    """The real answer with a `padding` string in `data` that makes it HUGE_BODY_BYTES long."""
    head = orjson.dumps({k: v for k, v in envelope.items() if k != "data"})[:-1]
    data = orjson.dumps(envelope["data"] if isinstance(envelope["data"], dict) else {})[:-1]
    start = head + b',"data":' + data + (b"," if data != b"{" else b"") + b'"padding":"'
    yield start
    chunk = b"x" * 65536
    left = HUGE_BODY_BYTES - len(start) - 3
    while left > 0:
        yield chunk[:left]
        left -= len(chunk)
    yield b'"}}'
