"""factory_boy factories, one per model (cookiecutter-django style)."""

import factory
from factory.django import DjangoModelFactory

from appgroups.models import AppGroup, Membership, Role, User

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
