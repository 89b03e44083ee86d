"""Each fetched source has a django-celery-beat ``PeriodicTask``: its schedule.

The API sets an interval; the admin can edit the task freely (interval, crontab, enabled,
expiry), and the database scheduler picks changes up within seconds. The task expires
after one interval, so fetches queued while no worker ran do not pile up.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from emotionhub.celery import QUEUE_INGEST
from emotionhub.social.models import UNFETCHED_KINDS, Source

FETCH_TASK = "emotionhub.social.tasks.fetch_source"
PERIOD_SECONDS = {
    IntervalSchedule.DAYS: 86400,
    IntervalSchedule.HOURS: 3600,
    IntervalSchedule.MINUTES: 60,
    IntervalSchedule.SECONDS: 1,
    IntervalSchedule.MICROSECONDS: 1e-6,
}


def task_name(source: Source) -> str:
    return f"social fetch {source.pk}"


@transaction.atomic
def sync_schedule(source: Source, interval_seconds: int | None = None) -> PeriodicTask | None:
    """Create or update the source's beat entry; ``interval_seconds`` replaces its schedule."""
    task = source.periodic_task
    if source.kind in UNFETCHED_KINDS:
        if task is not None:
            task.delete()
        return None
    if task is None or interval_seconds is not None:
        every = interval_seconds or settings.EMOTIONHUB_SOCIAL_DEFAULT_INTERVAL_SECONDS
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
        if task is None:
            task = PeriodicTask(name=task_name(source), task=FETCH_TASK)
        task.interval, task.crontab, task.solar, task.clocked = interval, None, None, None
        task.expire_seconds = every
    task.args = json.dumps([str(source.pk)])
    task.queue = QUEUE_INGEST
    task.enabled = source.enabled
    task.description = f"{source.get_kind_display()} {source.name!r} of tenant {source.tenant_id}"
    task.save()
    if source.periodic_task_id != task.pk:
        source.periodic_task = task
        source.save(update_fields=["periodic_task"])
    return task


def describe(source: Source) -> dict | None:
    """The schedule as the API shows it."""
    task = source.periodic_task
    if task is None:
        return None
    out: dict = {"enabled": task.enabled, "last_run_at": task.last_run_at}
    if task.interval is not None:
        out["interval_seconds"] = int(task.interval.every * PERIOD_SECONDS[task.interval.period])
    elif task.crontab is not None:
        c = task.crontab
        out["crontab"] = f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"
    else:
        out["other"] = str(task.schedule)
    return out


def delete_schedule(sender, instance: Source, **kwargs) -> None:
    """post_delete of a Source: its beat entry goes too."""
    if instance.periodic_task_id:
        PeriodicTask.objects.filter(pk=instance.periodic_task_id).delete()
