"""Turns incoming items into Post rows whose text and images are analysed as a submission.

Each new post is written in one transaction: the Post row and, through
:func:`emotionhub.jobs.submissions.create_submission` (the path every API upload takes),
its Media and AnalysisJob rows; jobs are enqueued after commit. So the same analyzers run
as for an upload: text analyzers on the post's text, image analyzers on each downloaded
image with the text as caption. A post is either complete or absent.

Duplicates are decided by the ``(source, external_id)`` unique constraint: a bulk look-up
skips known ids before any image is downloaded, and a race with a parallel fetch or push
ends in the constraint, counted as a duplicate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction

from emotionhub.accounts.models import Scope
from emotionhub.accounts.principal import Principal
from emotionhub.accounts.purpose import face_emotion_refusal
from emotionhub.analyzers import registry
from emotionhub.core.errors import DomainError
from emotionhub.core.http import SafeClient
from emotionhub.jobs.submissions import SubmissionRequest, create_submission
from emotionhub.media.models import Media
from emotionhub.social.cleaning import storable, storable_text
from emotionhub.social.connectors.base import IncomingPost
from emotionhub.social.media import MediaRefused, download_image
from emotionhub.social.models import Post, Source, SourceRun

log = logging.getLogger(__name__)
MAX_WARNINGS = 20


@dataclasses.dataclass
class IngestStats:
    fetched: int = 0
    new: int = 0
    duplicate: int = 0
    skipped: int = 0
    media_stored: int = 0
    media_skipped: int = 0
    warnings: list[dict] = dataclasses.field(default_factory=list)
    outcomes: list[tuple[str, str, str | None]] = dataclasses.field(default_factory=list)

    def warn(self, **warning: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append({k: storable_text(str(v)[:500]) for k, v in warning.items()})

    def record(self, external_id: str, outcome: str, post_id: str | None = None) -> None:
        self.outcomes.append((external_id, outcome, post_id))


@dataclasses.dataclass(frozen=True)
class Limits:
    posts: int
    media: int
    media_per_post: int

    @classmethod
    def for_source(cls, source: Source) -> Limits:
        return cls(
            posts=source.max_posts_per_run or settings.EMOTIONHUB_SOCIAL_MAX_POSTS_PER_RUN,
            media=(
                source.max_media_per_run
                if source.max_media_per_run is not None
                else settings.EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_RUN
            ),
            media_per_post=settings.EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_POST,
        )


def analyzers_by_kind(source: Source) -> dict[str, list[str]]:
    """The source's analyzers that accept text and images; raises ``unknown_analyzer``."""
    enabled = registry.enabled_names()
    chosen = list(dict.fromkeys(source.analyzers)) or enabled
    registry.check_enabled(chosen)
    specs = {name: registry.get_spec(name) for name in chosen}
    return {
        kind: [name for name, spec in specs.items() if kind in spec.media_kinds]
        for kind in ("text", "image")
    }


def normalise_external_id(value: str) -> str:
    """Ids longer than the column are stored as their hash, which stays unique."""
    value = storable_text(str(value)).strip()
    if len(value) <= 255:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def clip_text(text: str) -> str:
    """The text within the text-upload limit, cut on a character boundary."""
    limit = settings.EMOTIONHUB_MAX_UPLOAD_BYTES["text"]
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")


def ingest(
    source: Source,
    items: Sequence[IncomingPost],
    *,
    client: SafeClient,
    limits: Limits,
    run: SourceRun | None,
    stats: IngestStats | None = None,
) -> IngestStats:
    """Store the new items among ``items`` (at most ``limits.posts``) and queue their jobs."""
    stats = stats or IngestStats()
    stats.fetched += len(items)
    kinds = analyzers_by_kind(source)
    # A purpose that rules out face emotion (changed since the source was set up) withholds
    # images from those analyzers; the posts' text is still analysed.
    refusal = face_emotion_refusal(source.tenant.purpose, kinds["image"])
    if refusal:
        kinds = {**kinds, "image": [a for a in kinds["image"] if a not in refusal.analyzers]}
    unique: dict[str, IncomingPost] = {}
    for item in items:
        item = _storable_item(item)
        key = normalise_external_id(item.external_id)
        if key in unique:
            stats.duplicate += 1
            stats.record(key, "duplicate")
        else:
            unique[key] = item
    known = set(
        Post.objects.filter(source=source, external_id__in=list(unique)).values_list(
            "external_id", flat=True
        )
    )
    media_budget = limits.media
    for external_id, item in unique.items():
        if external_id in known:
            stats.duplicate += 1
            stats.record(external_id, "duplicate")
            continue
        if stats.new >= limits.posts:
            stats.skipped += 1
            stats.record(external_id, "skipped")
            continue
        text = clip_text(item.text.strip())
        uploads: list[SimpleUploadedFile] = []
        refused: list[dict] = []
        for url in item.image_urls[: limits.media_per_post]:
            if not kinds["image"] and refusal:
                refused.append(MediaRefused(url, refusal.code, refusal.message).as_dict())
            elif not kinds["image"]:
                refused.append(MediaRefused(url, "no_image_analyzer", "not analysed").as_dict())
            elif source.tenant.require_consent:
                # Posts carry no statement of consent; the text is still analysed.
                reason = "the tenant requires consent, which posts do not state"
                refused.append(MediaRefused(url, "consent_required", reason).as_dict())
            elif media_budget <= 0:
                refused.append(MediaRefused(url, "media_cap", "per-run media cap").as_dict())
            else:
                media_budget -= 1
                try:
                    uploads.append(download_image(client, url))
                except MediaRefused as exc:
                    refused.append(exc.as_dict())
                    stats.warn(post=external_id, **exc.as_dict())
        for url in item.image_urls[limits.media_per_post :]:
            refused.append(MediaRefused(url, "media_cap", "per-post media cap").as_dict())
        if refusal and item.image_urls:
            stats.warn(post=external_id, code=refusal.code, message=refusal.message)
        stats.media_skipped += len(refused)
        if not text and not uploads:
            stats.skipped += 1
            stats.record(external_id, "skipped")
            stats.warn(post=external_id, code="empty_post", message="no text and no usable image")
            continue
        try:
            post = _create_post(source, external_id, item, text, uploads, refused, kinds, run)
        except DomainError as exc:
            # Refused by the submission path: leave the post out, keep the run going.
            stats.skipped += 1
            stats.record(external_id, "skipped")
            stats.warn(post=external_id, code=exc.code, message=exc.message)
            continue
        if post is None:
            stats.duplicate += 1
            stats.record(external_id, "duplicate")
        else:
            stats.new += 1
            stats.media_stored += len(uploads)
            stats.record(external_id, "created", str(post.pk))
    return stats


def _storable_item(item: IncomingPost) -> IncomingPost:
    """The item with NUL bytes and lone surrogates gone from everything that is stored."""
    return dataclasses.replace(
        item,
        text=storable_text(item.text),
        url=storable_text(item.url),
        author=storable_text(item.author),
        image_urls=[storable_text(u) for u in item.image_urls],
    )


def _create_post(
    source: Source,
    external_id: str,
    item: IncomingPost,
    text: str,
    uploads: list[SimpleUploadedFile],
    refused: list[dict],
    kinds: dict[str, list[str]],
    run: SourceRun | None,
) -> Post | None:
    """The new Post with its submission, or None when another writer stored it first.
    Raises :class:`DomainError` (nothing written) when the submission path refuses it."""
    analyzers = sorted(set(kinds["image"] if uploads else []) | set(kinds["text"] if text else []))
    request = SubmissionRequest(
        files=uploads,
        texts=[text] if text and kinds["text"] else [],
        analyzers=analyzers or None,
        analyzer_settings={
            name: options
            for name, options in (source.analyzer_settings or {}).items()
            if name in analyzers
        },
        caption=text,
    )
    try:
        with transaction.atomic():
            post = Post.objects.create(
                tenant=source.tenant,
                source=source,
                external_id=external_id,
                url=item.url[:1000] if item.url.startswith(("http://", "https://")) else "",
                author=item.author[:255],
                text=text,
                posted_at=item.posted_at,
                run=run,
                skipped_media=storable(refused),
                media_role=item.media_role if uploads else "",
                nsfw=item.nsfw,
                attributes=storable(item.attributes),
            )
            if request.files or request.texts:
                principal = Principal(source.tenant, frozenset({Scope.SUBMIT}))
                submission, _ = create_submission(principal, request)
                post.submission = submission
                post.save(update_fields=["submission"])
                Media.objects.filter(submission=submission).update(source_post=post)
    except IntegrityError:
        if Post.objects.filter(source=source, external_id=external_id).exists():
            return None
        raise
    return post
