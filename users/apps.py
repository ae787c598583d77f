from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsersConfig(AppConfig):
    """Braze user profiles: written by /users/track and CSV imports, identifiers normalized and
    hashed as they are written, and the Audience pages (user list, profile, Import Users)."""

    name = "users"
    verbose_name = _("Users")

    def ready(self):
        from appgroups.signals import default_country_changed, workspace_settings_notices
        from users import tasks

        # appgroups announces these without importing users: a new default country re-reads
        # the stored phone numbers, and the settings page shows that work's progress.
        default_country_changed.connect(
            tasks.on_default_country_changed,
            weak=False,
            dispatch_uid="users.phone_renormalization_start",
        )
        workspace_settings_notices.connect(
            tasks.on_workspace_settings_notices,
            weak=False,
            dispatch_uid="users.phone_renormalization_notice",
        )
