"""A local twin of TikTok's Business API v1.3 for offline runs and tests (docs/SANDBOX.md).

It is its own process with its own SQLite store and shares no code with the product: the
product's TikTok client reaches it, or the real TikTok, by `TIKTOK_API_BASE` alone. A bare
"§2.2" in its comments is a section of docs/TIKTOK_API.md.
"""
