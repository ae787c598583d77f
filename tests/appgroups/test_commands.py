"""Ops bootstrap commands: idempotent, clear errors, non-zero exit on bad input."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from appgroups.models import AppGroup, Membership, Role, User


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


@pytest.mark.django_db
def test_create_app_group_is_idempotent():
    first = run("create_app_group", "Acme Production")
    second = run("create_app_group", "  Acme   Production ")

    assert first.startswith("Created app group 'Acme Production'")
    assert second.startswith("Already exists: app group 'Acme Production'")
    assert AppGroup.objects.filter(name="Acme Production").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_create_app_group_refuses_bad_names(name):
    with pytest.raises(CommandError):
        run("create_app_group", name)
    assert not AppGroup.objects.exists()


def test_add_dashboard_user_creates_then_updates(app_group):
    created = run(
        "add_dashboard_user",
        "Ana@Acme.test",
        "--app-group",
        "Acme",
        "--role",
        "admin",
        "--password",
        "a-long-enough-passphrase",
    )
    again = run("add_dashboard_user", "ana@acme.test", "--app-group", "Acme", "--role", "viewer")

    assert created.startswith("Created ana@acme.test: Admin of 'Acme'")
    assert again.startswith("Updated ana@acme.test: Viewer of 'Acme'")
    user = User.objects.get(email="ana@acme.test")
    assert user.check_password("a-long-enough-passphrase")
    assert Membership.objects.get(user=user).role == Role.VIEWER


def test_add_dashboard_user_reads_password_from_environment(app_group, monkeypatch):
    monkeypatch.setenv("DASHBOARD_USER_PASSWORD", "from-the-environment-42")

    run("add_dashboard_user", "env@acme.test", "--app-group", "Acme", "--role", "marketer")

    assert User.objects.get(email="env@acme.test").check_password("from-the-environment-42")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["nobody@acme.test", "--app-group", "Nope", "--role", "admin", "--password", "x" * 12],
            "No app group named 'Nope'",
        ),
        (
            ["not-an-email", "--app-group", "Acme", "--role", "admin", "--password", "x9" * 6],
            "is not a valid email address",
        ),
        (
            ["weak@acme.test", "--app-group", "Acme", "--role", "admin", "--password", "123"],
            "too short",
        ),
        (
            ["nopass@acme.test", "--app-group", "Acme", "--role", "admin"],
            "A new dashboard user needs a password",
        ),
    ],
)
def test_add_dashboard_user_refuses_bad_input(app_group, monkeypatch, args, message):
    monkeypatch.delenv("DASHBOARD_USER_PASSWORD", raising=False)

    with pytest.raises(CommandError, match=message):
        run("add_dashboard_user", *args)
    assert not User.objects.exists()
    assert not Membership.objects.exists()


def test_add_dashboard_user_rejects_unknown_role_with_nonzero_exit(settings):
    # argparse errors exit the real command with status 2, not a traceback.
    result = subprocess.run(
        [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "add_dashboard_user",
            "a@b.test",
            "--app-group",
            "Acme",
            "--role",
            "owner",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "invalid choice: 'owner'" in result.stderr


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
    from users.management.commands.seed_demo import DEMO_PROFILES
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
