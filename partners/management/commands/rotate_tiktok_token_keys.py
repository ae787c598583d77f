from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from partners import crypto
from partners.models import TikTokConnection, TikTokOAuthAttempt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored TikTok token with the first key of TIKTOK_TOKEN_KEYS. "
        "Rotation: put the new key first (keep the old one after it), run this, then drop "
        "the old key."
    )

    def handle(self, *args, **options):
        rotated = 0
        with transaction.atomic():
            for model in (TikTokConnection, TikTokOAuthAttempt):
                rows = model.objects.select_for_update().exclude(access_token_ciphertext="")
                for row in rows:
                    try:
                        row.access_token_ciphertext = crypto.rotate(row.access_token_ciphertext)
                    except crypto.InvalidToken as exc:
                        raise CommandError(
                            f"{model._meta.verbose_name} {row.pk} opens with none of the keys "
                            "in TIKTOK_TOKEN_KEYS: nothing was changed."
                        ) from exc
                    row.save(update_fields=["access_token_ciphertext"])
                    rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} TikTok token(s) with the newest key.")
