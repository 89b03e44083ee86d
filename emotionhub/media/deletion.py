"""Deleting media with everything derived from them.

Rows: jobs, results, reporting facts and review labels go by the database cascade of
``Media`` (``on_delete=CASCADE`` all the way down); the stored file goes after commit
(:mod:`emotionhub.media.signals`, so admin and tenant deletions remove files too).
The submissions of the media are locked first, the lock a worker takes to record an
outcome, so a job finishing meanwhile sees its row gone instead of writing a result for
a deleted media.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from emotionhub.jobs.models import Submission
from emotionhub.media.models import Media


def delete_media(media: QuerySet[Media]) -> list[str]:
    """Delete ``media`` and their derived rows and files; returns the deleted ids."""
    with transaction.atomic():
        rows = list(media.values_list("pk", "submission_id"))
        submission_ids = sorted({str(sub) for _, sub in rows if sub is not None})
        lock_submissions(submission_ids)
        ids = [pk for pk, _ in rows]
        Media.objects.filter(pk__in=ids).delete()
    return [str(pk) for pk in ids]


def lock_submissions(submission_ids) -> None:
    """Row locks on the submissions, in a fixed order so two deleters cannot deadlock."""
    if submission_ids:
        locked = Submission.objects.select_for_update().filter(pk__in=submission_ids)
        list(locked.order_by("pk").values_list("pk", flat=True))
