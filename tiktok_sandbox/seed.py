"""What a fresh (or reset) sandbox contains: Business Centers, ad accounts and TikTok users.

IDs are fixed so tests and demo data can name them; they look like TikTok's 19-digit IDs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BusinessCenter:
    bc_id: str
    name: str


@dataclass(frozen=True)
class AdAccount:
    advertiser_id: str
    bc_id: str
    name: str
    company: str
    currency: str
    timezone: str
    display_timezone: str
    country: str
    create_time: int  # epoch seconds, as /advertiser/info/ returns it


@dataclass(frozen=True)
class TikTokUser:
    user_id: str  # core_user_id in /user/info/
    display_name: str
    email: str
    create_time: int
    advertiser_ids: tuple[str, ...]
    # Ad accounts ticked by default on the consent page.
    default_advertiser_ids: tuple[str, ...]


NORTHWIND_BC = BusinessCenter("7210000000000000001", "Northwind Outdoor")
HARBOR_BC = BusinessCenter("7210000000000000002", "Harbor Agency")

NORTHWIND_US = "7230000000000000101"
NORTHWIND_UK = "7230000000000000102"
NORTHWIND_JP = "7230000000000000103"
HARBOR_DE = "7230000000000000201"

AD_ACCOUNTS = (
    AdAccount(
        NORTHWIND_US,
        NORTHWIND_BC.bc_id,
        "Northwind US",
        "Northwind Outdoor Inc.",
        "USD",
        "America/Los_Angeles",
        "Pacific Time (US & Canada)",
        "US",
        1_672_531_200,
    ),
    AdAccount(
        NORTHWIND_UK,
        NORTHWIND_BC.bc_id,
        "Northwind UK",
        "Northwind Outdoor Ltd.",
        "GBP",
        "Europe/London",
        "London",
        "GB",
        1_680_307_200,
    ),
    AdAccount(
        NORTHWIND_JP,
        NORTHWIND_BC.bc_id,
        "Northwind Japan",
        "Northwind Outdoor KK",
        "JPY",
        "Asia/Tokyo",
        "Tokyo",
        "JP",
        1_688_169_600,
    ),
    # In a second Business Center: lets tests send advertiser_ids that span two BCs.
    AdAccount(
        HARBOR_DE,
        HARBOR_BC.bc_id,
        "Harbor Agency Sandbox DE",
        "Harbor Agency GmbH",
        "EUR",
        "Europe/Berlin",
        "Berlin",
        "DE",
        1_696_118_400,
    ),
)

OWNER = TikTokUser(
    "7240000000000000001",
    "Dana Reyes",
    "dana.reyes@northwind.example",
    1_672_000_000,
    (NORTHWIND_US, NORTHWIND_UK, NORTHWIND_JP),
    (NORTHWIND_US, NORTHWIND_UK, NORTHWIND_JP),
)
# A second person with access to the same ad accounts, for the product's "Change Account" flow.
AGENCY_USER = TikTokUser(
    "7240000000000000002",
    "Sam Okafor",
    "sam.okafor@harbor-agency.example",
    1_675_000_000,
    (NORTHWIND_US, NORTHWIND_UK, NORTHWIND_JP, HARBOR_DE),
    (NORTHWIND_US, NORTHWIND_UK, NORTHWIND_JP),
)

BUSINESS_CENTERS = (NORTHWIND_BC, HARBOR_BC)
USERS = (OWNER, AGENCY_USER)
BC_OWNERS = {NORTHWIND_BC.bc_id: OWNER.user_id, HARBOR_BC.bc_id: AGENCY_USER.user_id}

AD_ACCOUNTS_BY_ID = {account.advertiser_id: account for account in AD_ACCOUNTS}
USERS_BY_ID = {user.user_id: user for user in USERS}
BUSINESS_CENTERS_BY_ID = {bc.bc_id: bc for bc in BUSINESS_CENTERS}

# Audience IDs count up from here and are never reused, not even after a reset, so an ID the
# product stored before a reset cannot point at a different audience afterwards.
FIRST_AUDIENCE_ID = 7_250_000_000_000_000_001


def as_dict() -> dict:
    """The seed as the control API returns it (GET /_sandbox/seed)."""
    return {
        "business_centers": [
            {"bc_id": bc.bc_id, "name": bc.name, "owner_user_id": BC_OWNERS[bc.bc_id]}
            for bc in BUSINESS_CENTERS
        ],
        "ad_accounts": [
            {
                "advertiser_id": a.advertiser_id,
                "bc_id": a.bc_id,
                "name": a.name,
                "currency": a.currency,
                "timezone": a.timezone,
                "country": a.country,
            }
            for a in AD_ACCOUNTS
        ],
        "users": [
            {
                "user_id": u.user_id,
                "display_name": u.display_name,
                "email": u.email,
                "advertiser_ids": list(u.advertiser_ids),
                "default_advertiser_ids": list(u.default_advertiser_ids),
            }
            for u in USERS
        ],
    }
