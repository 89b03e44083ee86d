"""Bulk import of customer feedback: a CSV or JSON Lines file becomes posts with jobs.

:func:`create_import` checks the mapping against the file (header, first line) before
anything is written, then stores the file, the import and its run, and queues
:func:`process_import` on the ``ingest`` queue. The worker streams the rows in batches of
``EMOTIONHUB_IMPORT_BATCH_ROWS``; each batch goes through :func:`social.ingest.ingest`,
the path every fetched post takes (the submission path, image URLs fetched under the
address policy), in one transaction that ends with the checkpoint (``rows_read``) and the
counters; its jobs are sent when it commits. A worker that dies leaves its lease to expire
and its batch rolled back; the task (redelivered, or sent again by
:func:`resume_stalled` from beat) re-reads from the checkpoint. A row whose external id
(or row hash) is already a post of the source is skipped as a duplicate, unless that post
is this row's own.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from pathlib import PurePath
from typing import IO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from emotionhub.accounts.models import Tenant
from emotionhub.core.errors import DomainError
from emotionhub.core.http import SafeClient
from emotionhub.jobs import dispatch
from emotionhub.social.cleaning import storable_text
from emotionhub.social.connectors.base import IncomingPost
from emotionhub.social.import_files import (
    UnreadableFile,
    csv_header,
    csv_rows,
    first_json_object,
    jsonl_rows,
)
from emotionhub.social.import_mapping import (
    InvalidMapping,
    RowProblem,
    check_columns,
    clean_mapping,
    row_post,
)
from emotionhub.social.ingest import (
    IngestStats,
    Limits,
    analyzers_by_kind,
    ingest,
    normalise_external_id,
)
from emotionhub.social.models import (
    FeedbackImport,
    ImportFormat,
    ImportSkip,
    ImportStatus,
    Post,
    RunStatus,
    RunTrigger,
    Source,
    SourceKind,
    SourceRun,
)
from emotionhub.social.runs import save_run

log = logging.getLogger(__name__)
IMPORT_TASK = "emotionhub.social.tasks.process_import"


def _format(requested: str | None, name: str) -> str:
    if requested:
        if requested not in ImportFormat.values:
            raise DomainError(
                "invalid_import", f"format must be one of {ImportFormat.values}", status=400
            )
        return requested
    suffix = PurePath(name).suffix.lower()
    if suffix == ".csv":
        return ImportFormat.CSV
    if suffix in (".jsonl", ".ndjson"):
        return ImportFormat.JSONL
    raise DomainError(
        "invalid_import", "give format (csv or jsonl): the file name does not say", status=400
    )


def _check_file(upload: UploadedFile, fmt: str, mapping: dict[str, str]) -> None:
    upload.seek(0)
    try:
        if fmt == ImportFormat.CSV:
            check_columns(mapping, csv_header(upload))
        else:
            first_json_object(upload)
    except UnreadableFile as exc:
        raise DomainError("unreadable_file", str(exc), status=400) from None
    except InvalidMapping as exc:
        raise DomainError("invalid_mapping", str(exc), status=400) from None
    finally:
        upload.seek(0)


def create_import(
    tenant: Tenant,
    upload: UploadedFile,
    mapping: object,
    *,
    source: Source | None = None,
    name: str = "",
    fmt: str | None = None,
) -> FeedbackImport:
    """Validate, then store the file and queue the import; raises :class:`DomainError`
    (nothing written) for a bad mapping, file, size or source."""
    size = upload.size
    assert size is not None  # Django sets it on every uploaded file
    if size > settings.EMOTIONHUB_IMPORT_MAX_BYTES:
        raise DomainError(
            "file_too_large",
            f"the file has {size} bytes; the limit is {settings.EMOTIONHUB_IMPORT_MAX_BYTES}",
            status=413,
        )
    try:
        cleaned = clean_mapping(mapping)
    except InvalidMapping as exc:
        raise DomainError("invalid_mapping", str(exc), status=400) from None
    fmt = _format(fmt, upload.name or "")
    _check_file(upload, fmt, cleaned)
    if source is not None and (source.tenant_id != tenant.pk or source.kind != SourceKind.IMPORT):
        raise DomainError("invalid_source", "source must be one of your import sources", status=400)
    with transaction.atomic():
        if source is None:
            source = Source.objects.create(
                tenant=tenant,
                kind=SourceKind.IMPORT,
                name=(name or PurePath(upload.name or "import").stem)[:200],
            )
        analyzers_by_kind(source)  # a disabled analyzer refuses the import before the file
        run = SourceRun.objects.create(tenant=tenant, source=source, trigger=RunTrigger.IMPORT)
        feedback = FeedbackImport(
            tenant=tenant,
            source=source,
            run=run,
            original_name=storable_text((upload.name or "")[:255]),
            format=fmt,
            mapping=cleaned,
            size=size,
        )
        feedback.file.save(f"{feedback.pk}.{fmt}", upload, save=False)  # copied in chunks
        feedback.save()
        transaction.on_commit(lambda: enqueue(feedback.pk))
    return feedback


def enqueue(import_id) -> None:
    """Send the import's task by name (jobs.dispatch): this module never imports tasks."""
    try:
        dispatch.send_task(IMPORT_TASK, [str(import_id)], queue="ingest")
    except Exception:  # the import is stored as queued: resume_stalled sends it again
        log.exception("broker unavailable; import %s waits for resume_stalled", import_id)


def cancel_import(feedback: FeedbackImport) -> FeedbackImport:
    """Stop after the batch being read; a queued import is cancelled at once."""
    now = timezone.now()
    FeedbackImport.objects.filter(pk=feedback.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.CANCELLED, cancel_requested=True, finished_at=now
    )
    FeedbackImport.objects.filter(pk=feedback.pk, status=ImportStatus.RUNNING).update(
        cancel_requested=True
    )
    feedback.refresh_from_db()
    return feedback


def _claim(import_id: str) -> bool:
    """Take the import's lease; False while another worker holds it or it is finished."""
    lease = datetime.timedelta(seconds=settings.EMOTIONHUB_IMPORT_LEASE_SECONDS)
    now = timezone.now()
    claimed = (
        FeedbackImport.objects.filter(
            pk=import_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(status=ImportStatus.RUNNING, lease_until=now + lease)
    )
    FeedbackImport.objects.filter(pk=import_id, started_at__isnull=True).update(started_at=now)
    return bool(claimed)


def _rows(feedback: FeedbackImport, binary: IO[bytes]) -> Iterator:
    return (csv_rows if feedback.format == ImportFormat.CSV else jsonl_rows)(binary)


def _batches(rows: Iterator, size: int, after: int) -> Iterator[list]:
    batch = []
    for row in rows:
        if row[0] <= after:
            continue  # read before the checkpoint
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def process_import(import_id: str) -> str:
    """Read the import from its checkpoint to the end (or a cancel); the final status."""
    if not _claim(import_id):
        return "not claimed"
    feedback = FeedbackImport.objects.select_related("source__tenant", "run").get(pk=import_id)
    FeedbackImport.objects.filter(pk=feedback.pk).update(attempts=feedback.attempts + 1)
    size = settings.EMOTIONHUB_IMPORT_BATCH_ROWS
    try:
        with feedback.file.open("rb") as binary, SafeClient() as client:
            for batch in _batches(_rows(feedback, binary), size, feedback.rows_read):
                if FeedbackImport.objects.filter(pk=feedback.pk, cancel_requested=True).exists():
                    return _finish(feedback, ImportStatus.CANCELLED)
                # One transaction per batch: one commit (not one per row), and a worker
                # that dies mid-batch leaves none of it behind.
                with transaction.atomic():
                    _process_batch(feedback, batch, client)
    except DomainError as exc:  # e.g. an analyzer disabled since: nothing more can be made
        return _finish(feedback, ImportStatus.FAILED, exc.code, exc.message)
    except OSError as exc:
        return _finish(feedback, ImportStatus.FAILED, "file_unavailable", str(exc))
    if FeedbackImport.objects.filter(pk=feedback.pk, cancel_requested=True).exists():
        return _finish(feedback, ImportStatus.CANCELLED)
    return _finish(feedback, ImportStatus.SUCCEEDED)


def _process_batch(feedback: FeedbackImport, batch: list, client: SafeClient) -> None:
    skips: list[ImportSkip] = []
    items: dict[str, tuple[int, IncomingPost]] = {}
    for number, row, problem in batch:
        if problem:
            code, _, message = problem.partition(": ")
            skips.append(
                ImportSkip(feedback_import=feedback, row=number, code=code, message=message)
            )
            continue
        try:
            post = row_post(number, row, feedback.mapping)
        except RowProblem as exc:
            skips.append(
                ImportSkip(feedback_import=feedback, row=number, code=exc.code, message=exc.message)
            )
            continue
        key = normalise_external_id(post.external_id)
        if key in items:
            skips.append(_duplicate(feedback, number, items[key][0]))
            continue
        items[key] = (number, post)
    # Posts already made: by this row in an attempt that died (not a skip), or by another row.
    existing = dict(
        Post.objects.filter(source=feedback.source, external_id__in=list(items)).values_list(
            "external_id", "attributes__row"
        )
    )
    fresh = []
    for key, (number, post) in items.items():
        if key in existing:
            made_by = existing[key]
            if not (made_by == number and _same_import(feedback, key)):
                skips.append(_duplicate(feedback, number, made_by))
        else:
            fresh.append(post)
    stats = IngestStats()
    if fresh:
        limits = Limits(posts=len(fresh), media=len(fresh), media_per_post=1)
        ingest(feedback.source, fresh, client=client, limits=limits, run=feedback.run, stats=stats)
    reasons = {w.get("post"): w for w in stats.warnings}
    rows_of = {normalise_external_id(p.external_id): n for n, p in items.values()}
    for external_id, outcome, _ in stats.outcomes:
        if outcome == "created":
            continue
        number = rows_of.get(external_id)
        if number is None:
            continue
        if outcome == "duplicate":  # written by a parallel attempt meanwhile
            continue
        warning = reasons.get(external_id, {})
        skips.append(
            ImportSkip(
                feedback_import=feedback,
                row=number,
                code=warning.get("code", "refused"),
                message=warning.get("message", "the row could not be stored"),
            )
        )
    ImportSkip.objects.bulk_create(skips, ignore_conflicts=True)
    _checkpoint(feedback, batch[-1][0])


def _same_import(feedback: FeedbackImport, external_id: str) -> bool:
    return Post.objects.filter(
        source=feedback.source, external_id=external_id, run=feedback.run
    ).exists()


def _duplicate(feedback: FeedbackImport, number: int, other) -> ImportSkip:
    where = f"row {other}" if other else "an earlier import"
    return ImportSkip(
        feedback_import=feedback,
        row=number,
        code="duplicate",
        message=f"same external id (or identical row) as {where}",
    )


def _checkpoint(feedback: FeedbackImport, rows_read: int) -> None:
    lease = datetime.timedelta(seconds=settings.EMOTIONHUB_IMPORT_LEASE_SECONDS)
    FeedbackImport.objects.filter(pk=feedback.pk).update(
        rows_read=rows_read,
        rows_created=Post.objects.filter(run=feedback.run).count(),
        rows_skipped=ImportSkip.objects.filter(feedback_import=feedback).count(),
        lease_until=timezone.now() + lease,
    )


def _finish(feedback: FeedbackImport, status: str, code: str = "", message: str = "") -> str:
    feedback.refresh_from_db()
    _checkpoint(feedback, feedback.rows_read)
    feedback.refresh_from_db()
    FeedbackImport.objects.filter(pk=feedback.pk).update(
        status=status,
        error_code=code,
        error_message=message[:2000],
        finished_at=timezone.now(),
        lease_until=None,
    )
    if feedback.run is not None:
        stats = IngestStats(
            fetched=feedback.rows_read,
            new=feedback.rows_created,
            skipped=feedback.rows_skipped,
        )
        if status == ImportStatus.SUCCEEDED:
            save_run(feedback.run, stats, RunStatus.SUCCEEDED)
        else:
            save_run(feedback.run, stats, RunStatus.FAILED, code or status, message or status)
    log.info("import %s %s: %s rows", feedback.pk, status, feedback.rows_read)
    return status


def resume_stalled() -> int:
    """Queue again the imports whose worker died (lease run out); how many."""
    now = timezone.now()
    lease = datetime.timedelta(seconds=settings.EMOTIONHUB_IMPORT_LEASE_SECONDS)
    stalled = list(
        FeedbackImport.objects.filter(
            Q(status=ImportStatus.RUNNING, lease_until__lt=now)
            | Q(status=ImportStatus.QUEUED, lease_until__isnull=True, created_at__lt=now - lease)
        ).values_list("pk", flat=True)
    )
    for pk in stalled:
        enqueue(pk)
    return len(stalled)
