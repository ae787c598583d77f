"""manage.py seed_demo: idempotent, prints working credentials, fills the Demo app group with
users (some of them not syncable), and refuses production settings."""

import io

import pytest
from django.core.management import CommandError, call_command

from appgroups.models import AppGroup, Membership, User


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_seed_demo_is_idempotent_and_prints_working_credentials(db, settings, tmp_path):
    settings.DEBUG = True
    settings.DEMO_CREDENTIALS_FILE = tmp_path / "demo.txt"

    first = run("seed_demo")
    second = run("seed_demo")

    assert first == second
    assert AppGroup.objects.filter(name="Demo").count() == 1
    for line in first.splitlines()[1:]:
        _, email, _, password = line.split()
        assert User.objects.get(email=email).check_password(password)
    assert Membership.objects.filter(app_group__name="Demo").count() == 2


def test_seed_demo_adds_demo_users_some_of_them_not_syncable(db, settings, tmp_path):
    from demo.services import DEMO_PROFILES
    from users.models import Device, Profile

    settings.DEBUG = True
    settings.DEMO_CREDENTIALS_FILE = tmp_path / "demo.txt"

    run("seed_demo")
    run("seed_demo")

    demo = Profile.objects.filter(app_group__name="Demo")
    assert demo.count() == DEMO_PROFILES
    assert demo.filter(email_sha256__isnull=False).count() > DEMO_PROFILES // 2
    assert demo.exclude(email_invalid_reason="").exists()
    assert demo.exclude(phone_invalid_reason="").exists()
    assert demo.exclude(idfa_invalid_reason="").exists()
    assert demo.filter(idfa_sha256__isnull=False).exists()
    assert demo.filter(gaid_sha256__isnull=False).exists()
    # Users with nothing to match on: a demo Canvas shows them as Not Synced.
    unmatchable = demo.filter(
        email_sha256=None, phone_sha256=None, idfa_sha256=None, gaid_sha256=None
    )
    assert unmatchable.count() > 50
    assert (
        Device.objects.filter(
            profile__app_group__name="Demo", device_id__startswith="demo-"
        ).count()
        == 80
    )


def test_seed_demo_refuses_production_settings(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="for development"):
        run("seed_demo")
