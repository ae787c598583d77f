from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from partners import crypto
from partners.models import TikTokConnection, TikTokOAuthAttempt


class Command(BaseCommand):
    # argparse needs a plain str (a lazy translation breaks `manage.py help`): English.
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
                            _(
                                # Translators: %(model)s %(pk)s is a stored row, e.g. "TikTok
                                # connection 3".
                                "%(model)s %(pk)s opens with none of the keys in "
                                "TIKTOK_TOKEN_KEYS: nothing was changed."
                            )
                            % {"model": model._meta.verbose_name, "pk": row.pk}
                        ) from exc
                    row.save(update_fields=["access_token_ciphertext"])
                    rotated += 1
        message = ngettext(
            # Translators: English keeps "token(s)" for every count; use your language's
            # plural forms.
            "Re-encrypted %(count)d TikTok token(s) with the newest key.",
            "Re-encrypted %(count)d TikTok token(s) with the newest key.",
            rotated,
        )
        self.stdout.write(message % {"count": rotated})
