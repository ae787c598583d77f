from django.apps import AppConfig


class AudienceSyncConfig(AppConfig):
    """The Audience Sync queue: users queued with their hashes, batched, rate-limited, sent to
    TikTok, retried until their deadline, and counted."""

    name = "audience_sync"
    verbose_name = "Audience Sync"
