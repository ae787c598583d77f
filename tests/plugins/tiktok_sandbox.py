"""Fixtures that start the TikTok sandbox (tiktok_sandbox/) as its own process on a free port."""
