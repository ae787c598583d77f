from django.apps import AppConfig


class UsersConfig(AppConfig):
    """Braze user profiles: written by /users/track and CSV imports, identifiers normalized and
    hashed as they are written, and the Audience pages (user list, profile, Import Users)."""

    name = "users"
    verbose_name = "Users"
