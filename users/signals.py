"""Signals users sends, so that apps above it act on profiles without users importing them."""

from django.dispatch import Signal

# Sent by profiles_delete inside its transaction, before the profiles are deleted, with
# `app_group_id` and `profile_ids`: a receiver that must forget or take back what it holds
# of these users does it in the same transaction (audience_sync: docs/ARCHITECTURE.md D16).
profiles_deleting = Signal()

# Sent inside the writing transaction, before the hash of an email, phone or ad id of these
# profiles changes, with `profile_ids`: a receiver that relies on the hashes stored now copies
# what it needs first (audience_sync keeps what it sent to TikTok: docs/ARCHITECTURE.md D16).
profile_hashes_changing = Signal()
