from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AudienceSyncConfig(AppConfig):
    """The Audience Sync queue: users queued with their hashes, batched, rate-limited, sent to
    TikTok, retried until their deadline, and counted."""

    name = "audience_sync"
    verbose_name = _("Audience Sync")

    def ready(self):
        from audience_sync.erasure import audience_members_freeze, audience_sync_profiles_forget
        from users.signals import profile_hashes_changing, profiles_deleting

        def on_profiles_deleting(sender, app_group_id, profile_ids, **kwargs):
            audience_sync_profiles_forget(app_group_id=app_group_id, profile_ids=profile_ids)

        # A deleted user is never sent again, and leaves TikTok's audiences (D16).
        profiles_deleting.connect(
            on_profiles_deleting, weak=False, dispatch_uid="audience_sync.profiles_forget"
        )

        def on_profile_hashes_changing(sender, profile_ids, **kwargs):
            audience_members_freeze(profile_ids=profile_ids)

        # What TikTok received stays known when a profile's identifiers change.
        profile_hashes_changing.connect(
            on_profile_hashes_changing, weak=False, dispatch_uid="audience_sync.members_freeze"
        )
