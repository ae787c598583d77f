"""Fault injection: what the fault panel and POST /_sandbox/faults configure.

Each request to an endpoint in `endpoints` first takes the next entry of `script` (one-shot
faults, for deterministic tests), else draws each probability in FAULT_KINDS order.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

# Kinds of fault, in the order they are drawn.
FAULT_KINDS = ("40100", "50000", "51001", "http_502", "http_504", "timeout")
FAULT_LABELS = {
    "40100": "Code 40100 (rate limited)",
    "50000": "Code 50000 (system error)",
    "51001": "Code 51001 (internal timeout)",
    "http_502": "HTTP 502 Bad Gateway",
    "http_504": "HTTP 504 Gateway Timeout",
    "timeout": "Timeout (applied, then no answer)",
}
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
