"""Signals partners sends, so that apps above it (notifications) react to TikTok's state without
partners importing them."""

from django.dispatch import Signal

# Sent after the state of a TikTok connection or of one of its ad accounts was written, inside
# the writer's transaction: receivers read the state as stored now. Argument: `connection`.
tiktok_connection_changed = Signal()
