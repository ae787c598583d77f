"""TikTok tokens are encrypted at rest and the keys can be rotated."""

import pytest
from cryptography.fernet import Fernet
from django.db import connection as db

from partners import crypto
from partners.models import TikTokConnection
from tests.factories import TikTokConnectionFactory


@pytest.fixture
def keys(settings):
    def use(*keys):
        settings.TIKTOK_TOKEN_KEYS = list(keys)
        crypto.fernet.cache_clear()

    yield use
    crypto.fernet.cache_clear()


def test_the_database_holds_no_plaintext_token(app_group, keys):
    keys(Fernet.generate_key().decode())
    TikTokConnectionFactory(app_group=app_group, access_token="act.plaintext-token-value")

    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM partners_tiktokconnection")
        row = " ".join(str(v) for v in cursor.fetchone())
    assert "plaintext-token-value" not in row
    assert TikTokConnection.objects.get().access_token == "act.plaintext-token-value"


def test_rotation_reencrypts_with_the_new_key_and_old_ciphertexts_still_open(keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(old)
    ciphertext = crypto.encrypt("token")

    keys(new, old)
    assert crypto.decrypt(ciphertext) == "token"
    rotated = crypto.rotate(ciphertext)

    keys(new)
    assert crypto.decrypt(rotated) == "token"
    with pytest.raises(crypto.InvalidToken):
        crypto.decrypt(ciphertext)


def test_rotate_command_reencrypts_every_token(app_group, keys):
    from io import StringIO

    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(old)
    TikTokConnectionFactory(app_group=app_group, access_token="token-1")

    keys(new, old)
    out = StringIO()
    call_command("rotate_tiktok_token_keys", stdout=out)

    keys(new)
    assert TikTokConnection.objects.get().access_token == "token-1"
    assert "Re-encrypted 1 TikTok token(s)" in out.getvalue()


def test_rotate_command_changes_nothing_when_a_token_opens_with_no_key(app_group, keys):
    from django.core.management import CommandError, call_command

    keys(Fernet.generate_key().decode())
    TikTokConnectionFactory(app_group=app_group, access_token="token-1")
    before = TikTokConnection.objects.get().access_token_ciphertext

    keys(Fernet.generate_key().decode())
    with pytest.raises(CommandError, match="none of the keys"):
        call_command("rotate_tiktok_token_keys")
    assert TikTokConnection.objects.get().access_token_ciphertext == before
