"""One fetch of one source: claim it, fetch, ingest, record the run, set the back-off.

A beat tick only fetches a source that is enabled, past its ``next_fetch_allowed_at``
(set from Retry-After on HTTP 429, and by exponential back-off after failures) and not
leased by another fetch. The claim is one conditional UPDATE, so two ticks never fetch a
source at once and a rate-limited source costs one cheap query per tick, never a request.
Every failure, including an upstream that answers garbage, ends as a recorded run; the
task never raises for it.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from emotionhub.core.errors import DomainError
from emotionhub.core.http import FetchError, RateLimited, SafeClient
from emotionhub.social.cleaning import storable_text
from emotionhub.social.connectors import InvalidConfig, clean_config, connector_for
from emotionhub.social.ingest import IngestStats, Limits, analyzers_by_kind, ingest
from emotionhub.social.models import UNFETCHED_KINDS, RunStatus, RunTrigger, Source, SourceRun

log = logging.getLogger(__name__)


def claim(source_id: str, now: datetime.datetime) -> bool:
    lease = datetime.timedelta(seconds=settings.EMOTIONHUB_SOCIAL_FETCH_LEASE_SECONDS)
    return bool(
        Source.objects.filter(pk=source_id, enabled=True)
        .exclude(kind__in=UNFETCHED_KINDS)
        .filter(Q(next_fetch_allowed_at__isnull=True) | Q(next_fetch_allowed_at__lte=now))
        .filter(Q(fetch_lease_until__isnull=True) | Q(fetch_lease_until__lt=now))
        .update(fetch_lease_until=now + lease)
    )


def backoff_seconds(failures: int) -> float:
    base = settings.EMOTIONHUB_SOCIAL_BACKOFF_BASE_SECONDS
    return min(base * 2 ** max(failures - 1, 0), settings.EMOTIONHUB_SOCIAL_BACKOFF_MAX_SECONDS)


def fetch_source(source_id: str, trigger: str = RunTrigger.SCHEDULE) -> SourceRun | None:
    """Fetch the source if it is due; the finished run, or None when it was not due."""
    now = timezone.now()
    if not claim(source_id, now):
        log.info("source %s not fetched: disabled, backing off or already running", source_id)
        return None
    source = Source.objects.select_related("tenant").filter(pk=source_id).first()
    if source is None:  # deleted since the claim
        return None
    # A run still "running" under an expired lease lost its worker.
    SourceRun.objects.filter(source=source, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED,
        finished_at=now,
        error_code="worker_lost",
        error_message="the fetch stopped without finishing (worker died or timed out)",
    )
    run = SourceRun.objects.create(tenant=source.tenant, source=source, trigger=trigger)
    stats = IngestStats()
    try:
        config = clean_config(source.kind, source.config)
        analyzers_by_kind(source)  # a disabled analyzer fails the run before any request
        limits = Limits.for_source(source)
        with SafeClient() as client:
            batch = connector_for(source.kind).fetch(client, config, source.cursor, limits.posts)
            run.http_status = batch.http_status
            for note in batch.notes:
                stats.warn(**note)
            for left_out in batch.left_out:
                stats.fetched += 1
                stats.skipped += 1
                stats.warn(**left_out)
            ingest(source, batch.items, client=client, limits=limits, run=run, stats=stats)
    except RateLimited as exc:
        delay = exc.retry_after
        _fail(source, run, stats, exc.code, exc.message, exc.http_status, delay)
    except FetchError as exc:
        _fail(source, run, stats, exc.code, exc.message, exc.http_status)
    except InvalidConfig as exc:
        _fail(source, run, stats, "invalid_config", str(exc))
    except DomainError as exc:
        _fail(source, run, stats, exc.code, exc.message)
    except Exception as exc:  # a bug or a database error: record it, keep the worker alive
        log.exception("fetch of source %s failed", source_id)
        _fail(source, run, stats, "internal_error", f"{type(exc).__name__}: {exc}")
    else:
        _succeed(source, run, stats, batch.cursor)
    return run


def save_run(
    run: SourceRun, stats: IngestStats, status: str, code: str = "", message: str = ""
) -> None:
    """Store the run's outcome and counts."""
    run.status, run.finished_at = status, timezone.now()
    run.error_code, run.error_message = code, storable_text(message[:2000])
    for field in ("fetched", "new", "duplicate", "skipped", "media_stored", "media_skipped"):
        setattr(run, field, getattr(stats, field))
    run.warnings = stats.warnings
    run.save()


def _succeed(source: Source, run: SourceRun, stats: IngestStats, cursor: dict) -> None:
    save_run(run, stats, RunStatus.SUCCEEDED)
    Source.objects.filter(pk=source.pk).update(
        cursor=cursor,
        consecutive_failures=0,
        next_fetch_allowed_at=None,
        fetch_lease_until=None,
        last_fetched_at=run.finished_at,
    )


def _fail(
    source: Source,
    run: SourceRun,
    stats: IngestStats,
    code: str,
    message: str,
    http_status: int | None = None,
    retry_after: float | None = None,
) -> None:
    """Record the error; the cursor stays, so the next run asks for the same items again
    (those already stored count as duplicates)."""
    run.http_status = http_status or run.http_status
    save_run(run, stats, RunStatus.FAILED, code, message)
    failures = source.consecutive_failures + 1
    wait = backoff_seconds(failures)
    if retry_after is not None:
        wait = min(max(retry_after, 1.0), settings.EMOTIONHUB_SOCIAL_BACKOFF_MAX_SECONDS)
    Source.objects.filter(pk=source.pk).update(
        consecutive_failures=F("consecutive_failures") + 1,
        next_fetch_allowed_at=timezone.now() + datetime.timedelta(seconds=wait),
        fetch_lease_until=None,
    )
    log.warning(
        "fetch of source %s failed (%s): %s; next try in %.0f s", source.pk, code, message, wait
    )
