"""Turns a validated request into a Submission with its Media and AnalysisJobs.

All-or-nothing: every item is checked before anything is written, rows are created in one
transaction, and files written for a request that fails are removed, so bad input leaves
nothing behind. An ``Idempotency-Key`` makes a retried request return the first result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Collection, Sequence

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from emotionhub.accounts.principal import Principal
from emotionhub.accounts.purpose import check_face_emotion_allowed
from emotionhub.analyzers import registry
from emotionhub.analyzers.runner import validate_settings
from emotionhub.core.errors import DomainError
from emotionhub.jobs import webhooks
from emotionhub.jobs.dispatch import enqueue_after_commit
from emotionhub.jobs.models import AnalysisJob, Consent, JobStatus, Submission, WebhookStatus
from emotionhub.limits import quota
from emotionhub.media.decoding import ValidationDeadline, decode_slot
from emotionhub.media.models import Media, MediaKind
from emotionhub.media.remote import fetch_uploads
from emotionhub.media.sanitize import strip_metadata
from emotionhub.media.validation import CheckedUpload, check_upload

log = logging.getLogger(__name__)


@dataclasses.dataclass
class SubmissionRequest:
    files: Sequence = ()
    texts: Sequence[str] = ()
    urls: Sequence[str] = ()  # media fetched through the safe client, validated like files
    analyzers: Sequence[str] | None = None
    analyzer_settings: dict = dataclasses.field(default_factory=dict)
    caption: str = ""
    webhook_url: str = ""
    idempotency_key: str | None = None
    consent: str = Consent.UNKNOWN  # what the submitter states about the people shown


@dataclasses.dataclass
class _PlannedItem:
    kind: str
    upload: UploadedFile | None
    checked: CheckedUpload | None
    text: str
    analyzers: list[str]
    sent_sha256: str = ""  # what the client sent; ``checked`` describes what is stored


def create_submission(principal: Principal, req: SubmissionRequest) -> tuple[Submission, bool]:
    """Return ``(submission, created)``; ``created`` is False for an idempotent replay."""
    if not req.idempotency_key:  # a replay must still answer when the quota is used up
        quota.check(principal.api_key, len(req.files) + len(req.texts) + len(req.urls))
    plan = _plan(req, keep_metadata=principal.tenant.keep_image_metadata)
    check_face_emotion_allowed(principal.tenant, {n for item in plan for n in item.analyzers})
    _check_consent(principal.tenant, req.consent, plan)
    fingerprint = _fingerprint(req, plan)
    if req.idempotency_key:
        existing = _replay(principal, req.idempotency_key, fingerprint)
        if existing:
            return existing, False
    saved_files: list[str] = []
    try:
        with transaction.atomic():
            quota.consume(principal.api_key, len(plan))
            submission = Submission.objects.create(
                tenant=principal.tenant,
                api_key=principal.api_key,
                idempotency_key=req.idempotency_key or None,
                fingerprint=fingerprint,
                consent=req.consent,
                webhook_url=req.webhook_url,
                webhook_status=WebhookStatus.NONE,
            )
            jobs = _create_media_and_jobs(principal, submission, req, plan, saved_files)
            enqueue_after_commit(jobs)
    except IntegrityError:
        _delete_files(saved_files)
        if req.idempotency_key:
            # A parallel request with the same key won the race; answer with its submission.
            existing = _replay(principal, req.idempotency_key, fingerprint)
            if existing:
                return existing, False
        raise
    except BaseException:
        _delete_files(saved_files)
        raise
    return submission, True


def _check_consent(tenant, consent: str, plan: list[_PlannedItem]) -> None:
    """422 ``consent_required`` for image/video items of a tenant that requires consent,
    unless the submitter states it was given or is not required."""
    if not tenant.require_consent or consent in (Consent.GIVEN, Consent.NOT_REQUIRED):
        return
    visual = [index for index, item in enumerate(plan) if item.kind != MediaKind.TEXT]
    if visual:
        raise DomainError(
            "consent_required",
            "This tenant requires consent for images and videos: send consent=given (the "
            "people shown agreed) or consent=not_required; see docs/responsible-use.md.",
            status=422,
            details={"items": visual, "allowed": [Consent.GIVEN, Consent.NOT_REQUIRED]},
        )


def check_capacity(tenant_id=None) -> None:
    """Refuse new work (503 ``overloaded``) while the analysis backlog is over its limit.

    The backlog is counted in the database, not the broker: a queued job (waiting, or
    waiting for its retry) is one row whatever the broker, and counting it costs one
    indexed query. Refusing early tells clients to slow down instead of letting the queue
    grow without bound. Each tenant has a share of the queue
    (``EMOTIONHUB_MAX_QUEUED_JOBS_PER_TENANT``), so one tenant's burst turns that tenant
    away, not the others; the global limit is the backstop for many tenants at once.
    """
    retry_after = settings.EMOTIONHUB_OVERLOADED_RETRY_AFTER_SECONDS
    share = settings.EMOTIONHUB_MAX_QUEUED_JOBS_PER_TENANT
    if tenant_id is not None and share > 0:
        mine = AnalysisJob.objects.filter(status=JobStatus.QUEUED, tenant_id=tenant_id)
        if mine[: share + 1].count() > share:
            raise DomainError(
                "overloaded",
                f"More than {share} of your analysis jobs are waiting; try again in "
                f"{retry_after} s.",
                status=503,
                details={
                    "scope": "tenant",
                    "max_queued_jobs_per_tenant": share,
                    "retry_after_seconds": retry_after,
                },
                retry_after=retry_after,
            )
    limit = settings.EMOTIONHUB_MAX_QUEUED_JOBS
    if limit <= 0:
        return
    queued = AnalysisJob.objects.filter(status=JobStatus.QUEUED)[: limit + 1].count()
    if queued > limit:
        raise DomainError(
            "overloaded",
            f"More than {limit} analysis jobs are waiting; try again in {retry_after} s.",
            status=503,
            details={"max_queued_jobs": limit, "retry_after_seconds": retry_after},
            retry_after=retry_after,
        )


def _plan(req: SubmissionRequest, *, keep_metadata: bool) -> list[_PlannedItem]:
    count = len(req.files) + len(req.texts) + len(req.urls)
    if count == 0:
        raise DomainError("no_items", "Send at least one `file`, `url` or `text` item.", status=400)
    limit = settings.EMOTIONHUB_MAX_ITEMS_PER_SUBMISSION
    if count > limit:
        raise DomainError("too_many_items", f"{count} items sent; at most {limit}.", status=400)
    if req.webhook_url:
        try:
            webhooks.check_url(req.webhook_url)
        except webhooks.UnsafeUrl as exc:
            raise DomainError("invalid_webhook_url", f"webhook_url: {exc}.", status=400) from None

    enabled = registry.enabled_names()
    requested = list(dict.fromkeys(req.analyzers)) if req.analyzers else None
    if requested is not None:
        registry.check_enabled(requested)
    specs = {name: registry.get_spec(name) for name in (requested or enabled)}

    items: list[_PlannedItem] = []
    sources = [(f"file[{index}]", upload) for index, upload in enumerate(req.files)]
    deadline = ValidationDeadline()
    sources += fetch_uploads(list(req.urls), within=deadline.remaining())
    for field, upload in sources:
        deadline.check(field)
        with decode_slot(deadline, field):
            checked = check_upload(upload, field=field)
            sent = checked.sha256
            if checked.kind == MediaKind.IMAGE and not keep_metadata:
                upload, checked = strip_metadata(upload, checked)
        text = ""
        if checked.kind == MediaKind.TEXT:
            text = _decode_text(upload, field)
        items.append(_PlannedItem(checked.kind, upload, checked, text or req.caption, [], sent))
    for index, text in enumerate(req.texts):
        items.append(_PlannedItem(MediaKind.TEXT, None, None, _clean_text(text, index), []))

    for index, item in enumerate(items):
        item.analyzers = [name for name, spec in specs.items() if item.kind in spec.media_kinds]
        if not item.analyzers:
            raise DomainError(
                "no_analyzer_for_kind",
                f"Item {index} is {item.kind}, which none of the chosen analyzers accepts.",
                status=400,
                details={"item": index, "kind": item.kind, "analyzers": sorted(specs)},
            )
    used = {name for item in items for name in item.analyzers}
    check_analyzer_settings(req.analyzer_settings, used)
    return items


def check_analyzer_settings(values: dict, used: Collection[str], what: str = "submission") -> None:
    """400 ``invalid_analyzer_settings`` unless ``values`` maps analyzers that ``what`` (a
    submission, a real-time request) runs to options that fit their schemas."""
    if not isinstance(values, dict):
        raise DomainError(
            "invalid_analyzer_settings", "analyzer_settings must be a JSON object.", status=400
        )
    for name, options in values.items():
        if name not in used:
            raise DomainError(
                "invalid_analyzer_settings",
                f"analyzer_settings names {name!r}, which this {what} does not run.",
                status=400,
            )
        if not isinstance(options, dict):
            raise DomainError(
                "invalid_analyzer_settings",
                f"analyzer_settings.{name} must be an object.",
                status=400,
            )
        check_analyzer_options(name, options)


def check_analyzer_options(name: str, options: dict) -> None:
    """400 ``invalid_analyzer_settings`` unless ``options`` fit analyzer ``name``'s schema
    (shared by submissions and social sources, which store settings for later posts)."""
    problems = validate_settings(registry.analyzer_class(name), options)
    if problems:
        raise DomainError(
            "invalid_analyzer_settings",
            f"analyzer_settings.{name}: " + "; ".join(problems),
            status=400,
            details={"analyzer": name, "problems": problems},
        )


def _clean_text(text: str, index: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise DomainError("empty_text", f"text[{index}] is empty.", status=400)
    limit = settings.EMOTIONHUB_MAX_UPLOAD_BYTES["text"]
    if len(text.encode()) > limit:
        raise DomainError(
            "text_too_large", f"text[{index}] is longer than {limit} bytes.", status=413
        )
    return text


def _decode_text(upload, field: str) -> str:
    upload.seek(0)
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        raise DomainError(
            "unsupported_media_type", f"{field}: text files must be UTF-8.", status=415
        ) from None
    finally:
        upload.seek(0)
    if "\x00" in text:
        # Sniffing reads the first 8 KiB; a NUL later is found here (PostgreSQL text cannot
        # hold one), refused like a NUL at the start: not a text file.
        raise DomainError(
            "unsupported_media_type",
            f"{field}: text files must not contain NUL bytes (found at offset "
            f"{text.index(chr(0))}).",
            status=415,
        )
    if not text.strip():
        raise DomainError(
            "empty_text", f"{field}: the text file holds only whitespace.", status=400
        )
    return text


def _fingerprint(req: SubmissionRequest, plan: list[_PlannedItem]) -> str:
    described = {
        "items": [
            [
                item.kind,
                item.sent_sha256
                if item.checked
                else hashlib.sha256(item.text.encode()).hexdigest(),
                item.analyzers,
            ]
            for item in plan
        ],
        "settings": req.analyzer_settings,
        "caption": req.caption,
        "webhook": req.webhook_url,
    }
    if req.consent != Consent.UNKNOWN:  # only then, so earlier fingerprints still match
        described["consent"] = req.consent
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _replay(principal: Principal, key: str, fingerprint: str) -> Submission | None:
    existing = Submission.objects.filter(tenant=principal.tenant, idempotency_key=key).first()
    if existing and existing.fingerprint != fingerprint:
        raise DomainError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request.",
            status=422,
            details={"submission": str(existing.pk)},
        )
    return existing


def _create_media_and_jobs(
    principal: Principal,
    submission: Submission,
    req: SubmissionRequest,
    plan: list[_PlannedItem],
    saved_files: list[str],
) -> list[AnalysisJob]:
    jobs = []
    for item in plan:
        if item.checked:
            assert item.upload is not None  # checked uploads keep their file
            media = Media(
                tenant=principal.tenant,
                submission=submission,
                kind=item.kind,
                text=item.text,
                original_name=(item.upload.name or "")[:255],
                mime=item.checked.mime,
                size=item.checked.size,
                sha256=item.checked.sha256,
                width=item.checked.width,
                duration_seconds=item.checked.duration_seconds,
                height=item.checked.height,
            )
            media.file.save(item.upload.name or "upload", item.upload, save=False)
            saved_files.append(media.file.name)
            media.save()
        else:
            data = item.text.encode()
            media = Media.objects.create(
                tenant=principal.tenant,
                submission=submission,
                kind=MediaKind.TEXT,
                text=item.text,
                mime="text/plain",
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        for name in item.analyzers:
            jobs.append(
                AnalysisJob(
                    tenant=principal.tenant,
                    media=media,
                    submission=submission,
                    analyzer=name,
                    analyzer_version=registry.get_spec(name).version,
                    settings=req.analyzer_settings.get(name, {}),
                    max_attempts=settings.EMOTIONHUB_MAX_ATTEMPTS,
                    enqueued_at=submission.created_at,
                )
            )
    return AnalysisJob.objects.bulk_create(jobs)


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.exception("could not remove %s after a failed submission", name)
