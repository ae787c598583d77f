"""In-memory stand-ins for unit tests only; integration tests use the sandbox over HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from partners.tiktok.client import MappingResult, TikTokError


@dataclass
class FakeTikTokClient:
    """Records /segment/mapping/ calls; raises the queued errors first, then succeeds."""

    app_id: str = "fake-app"
    errors: list[TikTokError] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)

    def map_users(
        self, *, access_token, advertiser_ids, action, id_schema, batch_data, slot_taken=False
    ):
        rows = json.loads(batch_data) if isinstance(batch_data, bytes) else batch_data
        self.calls.append(
            {
                "access_token": access_token,
                "advertiser_ids": advertiser_ids,
                "action": action,
                "id_schema": id_schema,
                "rows": rows,
            }
        )
        if self.errors:
            raise self.errors.pop(0)
        return MappingResult(request_id=f"fake-{len(self.calls)}", code=0, seconds=0.001)

    @property
    def sent_rows(self) -> list:
        return [row for call in self.calls for row in call["rows"]]
