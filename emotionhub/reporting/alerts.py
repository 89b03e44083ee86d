"""Alerts when a brand's volume or sentiment moves sharply from its recent baseline.

The last 24 hours (ending on the hour) are compared with the mean of the ``baseline_days``
24-hour windows before them, all counted in one query. The dashboard shows the alerts of
its end date; :func:`deliver_due` records each new one once (per brand, kind, direction and
hour) and sends it by signed webhook (``jobs.webhooks``, the tenant's secret) and e-mail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Aggregate, Avg, Count, Q
from django.utils import timezone

from emotionhub.jobs import webhooks
from emotionhub.reporting.models import Alert, AlertKind, Brand, ResultFact
from emotionhub.reporting.queries import brand_q

log = logging.getLogger(__name__)
WINDOW = dt.timedelta(hours=24)
EVENT = "brand.alert"


@dataclasses.dataclass(frozen=True)
class Window:
    start: dt.datetime
    volume: int
    sentiment: float | None
    votes: int


@dataclasses.dataclass(frozen=True)
class Detected:
    kind: str
    direction: str
    window_end: dt.datetime
    value: float
    baseline: float
    message: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def windows(brand: Brand, end: dt.datetime) -> list[Window]:
    """The current window first, then the baseline windows, newest first."""
    starts = [end - WINDOW * (i + 1) for i in range(brand.baseline_days + 1)]
    aggregates: dict[str, Aggregate] = {}
    for i, start in enumerate(starts):
        within = Q(occurred_at__gte=start, occurred_at__lt=start + WINDOW)
        aggregates[f"v{i}"] = Count("media_id", distinct=True, filter=within)
        aggregates[f"n{i}"] = Count("polarity", filter=within)
        aggregates[f"s{i}"] = Avg("polarity", filter=within)
    row = ResultFact.objects.filter(
        brand_q(brand, starts[-1], end),
        tenant_id=brand.tenant_id,
        current=True,
        occurred_at__gte=starts[-1],
        occurred_at__lt=end,
    ).aggregate(**aggregates)
    return [
        Window(start, row[f"v{i}"], row[f"s{i}"], row[f"n{i}"]) for i, start in enumerate(starts)
    ]


def detect(brand: Brand, end: dt.datetime) -> list[Detected]:
    """Alerts for the 24 hours before ``end`` (truncated to the hour)."""
    end = end.replace(minute=0, second=0, microsecond=0)
    current, *baseline = windows(brand, end)
    found: list[Detected] = []
    if not baseline:
        return found
    mean_volume = sum(w.volume for w in baseline) / len(baseline)
    factor = 1.0 + brand.volume_change
    if max(current.volume, mean_volume) >= brand.min_volume and mean_volume > 0:
        if current.volume >= mean_volume * factor:
            direction = "up"
        elif current.volume <= mean_volume / factor:
            direction = "down"
        else:
            direction = ""
        if direction:
            found.append(
                Detected(
                    AlertKind.VOLUME,
                    direction,
                    end,
                    float(current.volume),
                    round(mean_volume, 4),
                    f"{brand.name}: volume {direction} to {current.volume} in the last 24 h "
                    f"(baseline {mean_volume:.1f} a day over {len(baseline)} days)",
                )
            )
    voted = [(w.sentiment, w.votes) for w in baseline if w.sentiment is not None]
    base_votes = sum(votes for _, votes in voted)
    if current.sentiment is not None and current.votes >= brand.min_volume and base_votes:
        mean = sum(sentiment * votes for sentiment, votes in voted) / base_votes
        delta = current.sentiment - mean
        if base_votes >= brand.min_volume and abs(delta) >= brand.sentiment_change:
            direction = "up" if delta > 0 else "down"
            found.append(
                Detected(
                    AlertKind.SENTIMENT,
                    direction,
                    end,
                    round(current.sentiment, 4),
                    round(mean, 4),
                    f"{brand.name}: sentiment {direction} to {current.sentiment:+.2f} in the "
                    f"last 24 h (baseline {mean:+.2f})",
                )
            )
    return found


def deliver_due(now: dt.datetime | None = None) -> list[Alert]:
    """Record and send the alerts of every brand that has somewhere to send them."""
    now = now or timezone.now()
    sent = []
    brands = Brand.objects.select_related("tenant").exclude(alert_webhook_url="", alert_emails=[])
    for brand in brands:
        for found in detect(brand, now):
            alert = _record(brand, found)
            if alert is not None:
                _send(brand, alert)
                sent.append(alert)
    return sent


def _record(brand: Brand, found: Detected) -> Alert | None:
    """The new Alert row, or None when this alert was already recorded (and sent)."""
    try:
        with transaction.atomic():
            return Alert.objects.create(
                tenant_id=brand.tenant_id,
                brand=brand,
                kind=found.kind,
                direction=found.direction,
                window_end=found.window_end,
                value=found.value,
                baseline=found.baseline,
                message=found.message,
            )
    except IntegrityError:
        return None


def alert_payload(alert: Alert) -> dict:
    return {
        "event": EVENT,
        "alert": {
            "id": str(alert.pk),
            "brand": {"id": str(alert.brand_id), "name": alert.brand.name},
            "kind": alert.kind,
            "direction": alert.direction,
            "window_end": alert.window_end.isoformat(),
            "value": alert.value,
            "baseline": alert.baseline,
            "message": alert.message,
        },
    }


def _send(brand: Brand, alert: Alert) -> None:
    """One attempt each; failures are recorded on the alert, never raised."""
    if brand.alert_webhook_url:
        try:
            response = webhooks.post(
                brand.alert_webhook_url, brand.tenant.webhook_secret, EVENT, alert_payload(alert)
            )
            ok = 200 <= response.status < 300
            alert.webhook_status = "delivered" if ok else "failed"
            alert.webhook_error = "" if ok else f"HTTP {response.status}"
        except webhooks.FetchError as exc:
            alert.webhook_status = "failed"
            alert.webhook_error = f"{exc.code}: {exc.message}"[:500]
            log.warning("alert webhook for brand %s failed: %s", brand.pk, exc)
    emails = [e for e in brand.alert_emails if isinstance(e, str) and "@" in e]
    if emails:
        try:
            send_mail(
                f"[EmotionHub] {alert.message}",
                f"{alert.message}\n\nValue: {alert.value}\nBaseline: {alert.baseline}\n",
                settings.DEFAULT_FROM_EMAIL,
                emails,
            )
            alert.emailed_to = emails
        except OSError as exc:
            log.warning("alert e-mail for brand %s failed: %s", brand.pk, exc)
    alert.save(update_fields=["webhook_status", "webhook_error", "emailed_to"])
