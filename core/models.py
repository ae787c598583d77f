"""Tables of the shared pieces."""

from django.db import models


class RateLimitWindow(models.Model):
    """Requests counted in one fixed window for one key (core.ratelimit, when REDIS_URL is not
    set)."""

    key = models.CharField(max_length=200)
    window_start = models.BigIntegerField()  # epoch seconds
    count = models.BigIntegerField(default=0)

    class Meta:
        # Created by the appgroups app, where this model was first defined.
        db_table = "appgroups_ratelimitwindow"
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_window_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key}@{self.window_start}: {self.count}"
