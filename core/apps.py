from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Pieces every app may use and that know nothing of the product: raw SQL helpers, ids
    typed by people, and fixed-window rate limiting."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # System check: the translation catalogs are compiled (core/checks.py).
        from core import checks  # noqa: F401
