from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The Braze-compatible REST API under /api/: key authentication, Braze's error envelope,
    per-key rate limits, request validation, the OpenAPI document, and the endpoints."""

    name = "api"
    verbose_name = "REST API"
