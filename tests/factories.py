"""factory_boy factories, one per model (cookiecutter-django style)."""

import secrets

import factory
from factory.django import DjangoModelFactory

from appgroups.models import AppGroup, Membership, RestApiKey, Role, User
from users.models import Profile

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


class AppGroupFactory(DjangoModelFactory):
    class Meta:
        model = AppGroup
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"App group {n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    app_group = factory.SubFactory(AppGroupFactory)
    role = Role.VIEWER


def rest_api_key(*, app_group, permissions, name="Test key"):
    """A REST API key of `app_group`: (RestApiKey, secret). The secret is not stored."""
    secret = f"test-{secrets.token_hex(16)}"
    key = RestApiKey.objects.create(
        app_group=app_group,
        name=name,
        prefix=secret[:8],
        key_sha256=RestApiKey.hash_key(secret),
        permissions=sorted(permissions),
    )
    return key, secret


class ProfileFactory(DjangoModelFactory):
    """A bare profile (no email, phone or devices). Profiles with identifiers go through
    `profile_track` below, so the normalizer fills their hash columns."""

    class Meta:
        model = Profile

    app_group = factory.SubFactory(AppGroupFactory)
    external_id = factory.Sequence(lambda n: f"user-{n}")
    braze_id = factory.LazyFunction(lambda: secrets.token_hex(12))


def profile_track(app_group, **attributes):
    """Write one Braze attributes object through the real parser and service; returns the profile."""
    from django.utils import timezone

    from users.services.profiles import profiles_track
    from users.tracking import parse_track_body

    now = timezone.now()
    batch = parse_track_body(
        {"attributes": [attributes]}, default_country=app_group.default_country, now=now
    )
    outcome = profiles_track(app_group=app_group, batch=batch, now=now)
    assert not outcome.errors, outcome.errors
    return Profile.objects.filter(app_group=app_group).latest("updated_at", "id")
