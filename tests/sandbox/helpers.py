"""Small builders for /segment/mapping/ bodies, shared by the sandbox tests."""

from __future__ import annotations

from tests.plugins.tiktok_sandbox import sha256_hex

__all__ = ["cell", "mapping_body", "sha256_hex"]


def cell(value: str | None, *audience_ids: str) -> dict:
    """{} for None, else the hashed value mapped to the audiences."""
    if value is None:
        return {}
    return {"id": sha256_hex(value), "audience_ids": list(audience_ids)}


def mapping_body(
    advertiser_id: str | list[str],
    rows: list[list[dict]],
    id_schema: tuple[str, ...] = ("EMAIL_SHA256", "PHONE_SHA256"),
    action: str = "add",
) -> dict:
    advertiser_ids = [advertiser_id] if isinstance(advertiser_id, str) else advertiser_id
    return {
        "advertiser_ids": advertiser_ids,
        "action": action,
        "id_schema": list(id_schema),
        "batch_data": rows,
    }
