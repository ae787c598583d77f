"""factory_boy factories, one per model (cookiecutter-django style)."""

import secrets

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from appgroups.models import AppGroup, Membership, RestApiKey, Role, User
from canvas.models import AudienceSyncSettings, Canvas, Step, StepType
from partners.models import (
    AudienceStatus,
    ConnectionStatus,
    TikTokAdAccount,
    TikTokAudience,
    TikTokConnection,
)
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


class CanvasFactory(DjangoModelFactory):
    """A draft, API-triggered Canvas without steps (the model's defaults)."""

    class Meta:
        model = Canvas

    app_group = factory.SubFactory(AppGroupFactory)
    name = factory.Sequence(lambda n: f"Canvas {n}")


class StepFactory(DjangoModelFactory):
    """A step hanging from `parent` (None: the root) on its `branch` (Next by default).

    A Canvas has one root and a step one child per branch (the model's constraints): give
    every step after the first its `parent`, and Decision Split children their branch.
    The default is a Message step, which needs no settings.
    """

    class Meta:
        model = Step

    canvas = factory.SubFactory(CanvasFactory)
    step_type = StepType.MESSAGE
    parent = None


class TikTokConnectionFactory(DjangoModelFactory):
    """A connected TikTok account; the token is encrypted by the model's `set_access_token`
    (pass `access_token=`). One per app group."""

    class Meta:
        model = TikTokConnection

    app_group = factory.SubFactory(AppGroupFactory)
    status = ConnectionStatus.CONNECTED
    access_token = "unit-test-token"
    connected_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _build(cls, model_class, *args, access_token="", **kwargs):
        connection = model_class(*args, **kwargs)
        connection.set_access_token(access_token)
        return connection

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        connection = cls._build(model_class, *args, **kwargs)
        connection.save(force_insert=True)
        return connection


class TikTokAdAccountFactory(DjangoModelFactory):
    """An ad account chosen on the partner page; its app group is its connection's."""

    class Meta:
        model = TikTokAdAccount

    connection = factory.SubFactory(TikTokConnectionFactory)
    app_group = factory.SelfAttribute("connection.app_group")
    # TikTok ids are long digit strings (text: some exceed 2**53). Ours start at 7239...,
    # clear of the sandbox's seeded advertisers and the fixtures' fixed ids.
    advertiser_id = factory.Sequence(lambda n: str(7239000000000000001 + n))
    name = factory.Sequence(lambda n: f"Ad account {n}")


class TikTokAudienceFactory(DjangoModelFactory):
    """An audience that exists on TikTok (with its id); `draft=True` for one saved by
    "Create Audience" and not created on TikTok yet. Its app group is its ad account's."""

    class Meta:
        model = TikTokAudience

    class Params:
        draft = factory.Trait(status=AudienceStatus.DRAFT, tiktok_audience_id="")

    ad_account = factory.SubFactory(TikTokAdAccountFactory)
    app_group = factory.SelfAttribute("ad_account.app_group")
    name = factory.Sequence(lambda n: f"Audience {n}")
    tiktok_audience_id = factory.Sequence(lambda n: str(7259000000000000001 + n))
    status = AudienceStatus.CREATED


class AudienceSyncSettingsFactory(DjangoModelFactory):
    """The settings of an Audience Sync step. With an `audience`, its ad account is the
    audience's; without, the step is as the builder adds it (nothing chosen yet)."""

    class Meta:
        model = AudienceSyncSettings

    step = factory.SubFactory(StepFactory, step_type=StepType.AUDIENCE_SYNC)
    audience = None
    ad_account = factory.LazyAttribute(lambda o: o.audience.ad_account if o.audience else None)


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
