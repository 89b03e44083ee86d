"""Daily item quotas: checked before the work and consumed atomically in the write.

Guarantee: ``consume`` is one conditional ``UPDATE … SET items = items + n WHERE items + n
<= quota`` inside the submission's transaction. Concurrent submissions of the same key
queue on that row lock until the earlier one commits or rolls back (PostgreSQL re-checks
the condition against the committed value), so a key never exceeds its quota, and a
refused or failed submission consumes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from emotionhub.accounts.models import ApiKey
from emotionhub.core.errors import DomainError
from emotionhub.limits.models import DailyItemUsage


def daily_quota(key: ApiKey) -> int:
    """The key's items per UTC day; 0 means unlimited."""
    if key.daily_item_quota is not None:
        return key.daily_item_quota
    return settings.EMOTIONHUB_DAILY_ITEM_QUOTA


def utc_day(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(dt.UTC).date()


def next_reset(now: dt.datetime | None = None) -> dt.datetime:
    day = utc_day(now)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def items_used(key: ApiKey, day: dt.date | None = None) -> int:
    row = DailyItemUsage.objects.filter(api_key=key, day=day or utc_day()).first()
    return row.items if row else 0


def check(key: ApiKey | None, count: int) -> None:
    """Refuse early (no lock) when ``count`` more items would exceed today's quota."""
    if key is None:
        return
    quota = daily_quota(key)
    if quota and items_used(key) + count > quota:
        _refuse(key, quota, count)


def consume(key: ApiKey | None, count: int) -> None:
    """Add ``count`` items to today's usage or raise 429 ``quota_exceeded``; call inside
    the transaction that stores the items, so a rollback gives them back."""
    if key is None or count <= 0:
        return
    day, quota = utc_day(), daily_quota(key)
    DailyItemUsage.objects.bulk_create(
        [DailyItemUsage(api_key=key, day=day, items=0)], ignore_conflicts=True
    )
    rows = DailyItemUsage.objects.filter(api_key=key, day=day)
    if quota:
        rows = rows.filter(items__lte=quota - count)
    if not rows.update(items=F("items") + count):
        _refuse(key, quota, count)


def release(key: ApiKey | None, count: int, day: dt.date) -> None:
    """Give back ``count`` items consumed on ``day`` but not used (a live stream's unused
    reservation when it closes)."""
    if key is None or count <= 0:
        return
    DailyItemUsage.objects.filter(api_key=key, day=day, items__gte=count).update(
        items=F("items") - count
    )


def _refuse(key: ApiKey, quota: int, count: int) -> None:
    now = timezone.now()
    reset = next_reset(now)
    used = items_used(key)
    retry_after = max(1, int((reset - now).total_seconds()) + 1)
    raise DomainError(
        "quota_exceeded",
        f"This API key may submit {quota} items per UTC day; {used} are used and this "
        f"request has {count}. The quota resets at {reset.isoformat()}.",
        status=429,
        details={"quota": quota, "used": used, "requested": count, "resets_at": reset.isoformat()},
        retry_after=retry_after,
    )
