"""Sandbox settings, read once from the environment (docs/SANDBOX.md lists every variable)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The product's OAuth callback on its default dev ports (docs/ARCHITECTURE.md D12: web on 127.0.0.1:8000).
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/partners/tiktok/callback/,"
    "http://localhost:8000/partners/tiktok/callback/"
)


def _env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    app_id: str
    app_secret: str
    app_name: str
    redirect_uris: tuple[str, ...]
    # RFC 8252 §7.3-style: a loopback redirect_uri may differ from a registered one by port only.
    loopback_any_port: bool
    qps_limit: int
    max_rows_per_request: int
    audience_cap: int
    size_threshold: int
    seed: int
    data_dir: Path

    @property
    def db_path(self) -> Path:
        return self.data_dir / "sandbox.sqlite3"

    @classmethod
    def from_env(cls) -> Settings:
        uris = _env_str("TIKTOK_SANDBOX_REDIRECT_URIS", DEFAULT_REDIRECT_URIS)
        return cls(
            app_id=_env_str("TIKTOK_APP_ID", "7000000000000000001"),
            app_secret=_env_str("TIKTOK_APP_SECRET", "sandbox-secret-change-me"),
            app_name=_env_str("TIKTOK_SANDBOX_APP_NAME", "Braze Sync"),
            redirect_uris=tuple(uri.strip() for uri in uris.split(",") if uri.strip()),
            loopback_any_port=_env_bool("TIKTOK_SANDBOX_LOOPBACK_ANY_PORT"),
            # Braze's published figure for this integration (docs/TIKTOK_API.md §4); Basic tier is 10.
            qps_limit=_env_int("TIKTOK_SANDBOX_QPS_LIMIT", 50, minimum=1),
            # Rows (users) per /segment/mapping/ call, Braze's figure (docs/TIKTOK_API.md §4).
            max_rows_per_request=_env_int("TIKTOK_SANDBOX_MAX_IDS_PER_REQUEST", 10_000, minimum=1),
            # Custom audiences per ad account (docs/TIKTOK_API.md §5.7).
            audience_cap=_env_int("TIKTOK_SANDBOX_AUDIENCE_CAP", 400, minimum=1),
            # Ads Manager shows a size, and the audience is usable, from ~1,000 users (§5.7).
            size_threshold=_env_int("TIKTOK_SANDBOX_SIZE_THRESHOLD", 1_000),
            seed=_env_int("TIKTOK_SANDBOX_SEED", 1),
            data_dir=Path(_env_str("TIKTOK_SANDBOX_DATA_DIR", "var/tiktok_sandbox")),
        )
