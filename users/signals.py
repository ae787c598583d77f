"""Signals users sends, so that apps above it act on profiles without users importing them."""

from django.dispatch import Signal

# Sent by profiles_delete inside its transaction, before the profiles are deleted, with
# `app_group_id` and `profile_ids`: a receiver that must forget or take back what it holds
# of these users does it in the same transaction (audience_sync: docs/ARCHITECTURE.md D16).
profiles_deleting = Signal()
