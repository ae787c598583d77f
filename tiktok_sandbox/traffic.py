"""The QPS limiter on /segment/mapping/, the request log and the per-second counts.

Windows are whole seconds of the sandbox clock (floor of the Unix time), one counter per app:
the same "requests in a second" a client-side limiter of N per second must respect. Every
mapping request that passes the token check counts, including the ones it rejects.
Kept in memory: a restart empties the log and the counters, not the audiences.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass

# Enough history for the log page and for a test to find its own requests.
LOG_SIZE = 5_000
# Per-second counts kept for the fault panel's chart and GET /_sandbox/stats.
SECONDS_KEPT = 600


@dataclass(frozen=True)
class LogEntry:
    at: float
    method: str
    endpoint: str
    http_status: int
    code: int | None  # None when the answer was not a JSON envelope (HTTP 502/504, 404)
    message: str
    request_id: str
    bytes_in: int
    rows: int
    ids: int
    latency_ms: float
    fault: str | None
    action: str | None = None  # /segment/mapping/'s action

    def to_dict(self) -> dict:
        return asdict(self)


class Traffic:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        # A request that arrived before a reset and answers after it (a held `timeout`) must
        # not show up in the new log: each request carries the generation it arrived in.
        self.generation = getattr(self, "generation", 0) + 1
        self.log: deque[LogEntry] = deque(maxlen=LOG_SIZE)
        self.windows: dict[str, tuple[int, int]] = {}  # app_id -> (second, requests so far)
        # second -> [mapping requests that arrived, of which succeeded]
        self.mapping_seconds: dict[int, list[int]] = {}
        self.max_mapping_per_second = 0
        self.max_mapping_ok_per_second = 0
        self.by_endpoint: Counter[str] = Counter()
        self.by_code: Counter[str] = Counter()
        self.mapping_rows = 0
        self.mapping_ids = 0
        self.rate_limited = 0

    def mapping_arrived(self, app_id: str, now: float) -> int:
        """Count one mapping request for the app; return the count in this second."""
        second = int(now)
        window_second, count = self.windows.get(app_id, (second, 0))
        count = count + 1 if window_second == second else 1
        self.windows[app_id] = (second, count)
        counts = self.mapping_seconds.setdefault(second, [0, 0])
        counts[0] += 1
        self.max_mapping_per_second = max(self.max_mapping_per_second, counts[0])
        if len(self.mapping_seconds) > SECONDS_KEPT:
            for old in sorted(self.mapping_seconds)[:-SECONDS_KEPT]:
                del self.mapping_seconds[old]
        return count

    def mapping_succeeded(self, now: float, rows: int, ids: int) -> None:
        counts = self.mapping_seconds.setdefault(int(now), [0, 0])
        counts[1] += 1
        self.max_mapping_ok_per_second = max(self.max_mapping_ok_per_second, counts[1])
        self.mapping_rows += rows
        self.mapping_ids += ids

    def record(self, entry: LogEntry, *, generation: int) -> None:
        if generation != self.generation:
            return
        self.log.append(entry)
        self.by_endpoint[entry.endpoint] += 1
        self.by_code[
            str(entry.code if entry.code is not None else f"http_{entry.http_status}")
        ] += 1
        if entry.code == 40100:
            self.rate_limited += 1

    def recent_seconds(self, now: float, span: int = 60) -> list[dict]:
        """Mapping requests per second over the last `span` seconds, oldest first."""
        last = int(now)
        return [
            {
                "second": second,
                "requests": self.mapping_seconds.get(second, [0, 0])[0],
                "ok": self.mapping_seconds.get(second, [0, 0])[1],
            }
            for second in range(last - span + 1, last + 1)
        ]

    def stats(self, now: float, qps_limit: int) -> dict:
        busy = [counts[0] for counts in self.mapping_seconds.values()]
        return {
            "requests": sum(self.by_endpoint.values()),
            "by_endpoint": dict(self.by_endpoint),
            "by_code": dict(self.by_code),
            "mapping": {
                "rows": self.mapping_rows,
                "ids": self.mapping_ids,
                "rate_limited": self.rate_limited,
                "qps_limit": qps_limit,
                "max_requests_in_any_second": self.max_mapping_per_second,
                "max_ok_requests_in_any_second": self.max_mapping_ok_per_second,
                # Among the last SECONDS_KEPT seconds only.
                "seconds_over_limit": sum(1 for n in busy if n > qps_limit),
                "per_second": self.recent_seconds(now),
            },
        }
