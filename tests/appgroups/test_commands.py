"""Ops bootstrap commands (create_app_group, add_dashboard_user): idempotent, clear errors,
non-zero exit on bad input. seed_demo (demo) is tested in tests/demo/test_seed_demo.py."""

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
