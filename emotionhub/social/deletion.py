"""Deleting a post with all data derived from it: its media (files, jobs, results,
reporting facts, review labels) and the submission that analysed it."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from emotionhub.jobs.models import Submission
from emotionhub.media.deletion import delete_media
from emotionhub.media.models import Media
from emotionhub.social.models import Post


def delete_post(post: Post) -> list[str]:
    """Delete ``post`` and everything derived from it; returns the deleted media ids."""
    with transaction.atomic():
        mine = Q(source_post=post)
        if post.submission_id is not None:
            mine |= Q(submission_id=post.submission_id)
        deleted = delete_media(Media.objects.filter(mine))
        submission_id = post.submission_id
        post.delete()
        # The post's submission holds nothing else; without its media it is an empty shell.
        if submission_id is not None:
            Submission.objects.filter(pk=submission_id).delete()
    return deleted
