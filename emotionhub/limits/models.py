"""A durable count of the media items each API key submitted per UTC day."""

from django.db import models


class DailyItemUsage(models.Model):
    """One row per key and day, incremented in the submission's own transaction.

    A ledger rather than a count of ``Media`` rows: deleting media must not give the
    quota back, and purged media keep counting for the day they were sent.
    """

    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    items = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "day"], name="limits_one_usage_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.api_key_id} {self.day}: {self.items}"
