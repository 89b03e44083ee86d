"""Recording reviews: one new current label per target, the previous one kept as history."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from emotionhub.audit import Action
from emotionhub.audit import record as audit
from emotionhub.jobs.models import AnalysisResult
from emotionhub.review.models import ReviewLabel
from emotionhub.review.targets import target_named, targets


class ReviewError(ValueError):
    """A review that cannot be recorded; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def record(
    result: AnalysisResult, target: str, label: str, reviewer, *, request=None
) -> ReviewLabel:
    """Label ``target`` of ``result``; re-recording the same label is a no-op.

    Each new label is a ``correct`` audit event written in the same transaction.
    """
    found = target_named(result, target)
    if found is None:
        raise ReviewError("unknown_target", f"The result has no reviewable target {target!r}.")
    if label not in found.choices:
        raise ReviewError(
            "invalid_label",
            f"{label!r} is not a label of {target}; choose one of {', '.join(found.choices)}.",
        )
    with transaction.atomic():
        previous = (
            ReviewLabel.objects.select_for_update()
            .filter(result=result, target=target, current=True)
            .first()
        )
        if previous is not None and previous.reviewed_label == label:
            return previous
        if previous is not None:
            ReviewLabel.objects.filter(pk=previous.pk).update(current=False)
        reviewer = reviewer if getattr(reviewer, "pk", None) else None
        created = ReviewLabel.objects.create(
            tenant_id=result.tenant_id,
            result=result,
            target=target,
            model_label=found.model_label,
            reviewed_label=label,
            reviewer=reviewer,
        )
        audit(
            Action.CORRECT,
            tenant=result.tenant_id,
            actor_user=reviewer,
            obj_type="result",
            obj_id=result.pk,
            details={
                "target": target,
                "model_label": found.model_label,
                "previous": previous.reviewed_label if previous else None,
                "label": label,
            },
            request=request,
        )
        return created


def accept_model_labels(results: Iterable[AnalysisResult], reviewer, *, request=None) -> int:
    """Bulk action: confirm the model's label of every not yet reviewed target."""
    count = 0
    for result in results:
        reviewed = set(
            ReviewLabel.objects.filter(result=result, current=True).values_list("target", flat=True)
        )
        for target in targets(result):
            if target.name not in reviewed and target.model_label in target.choices:
                record(result, target.name, target.model_label, reviewer, request=request)
                count += 1
    return count


def set_item_label(results: Iterable[AnalysisResult], label: str, reviewer, *, request=None) -> int:
    """Bulk action: give every whole-item target (text or image sentiment) one label."""
    count = 0
    for result in results:
        for target in targets(result):
            if not target.is_face and label in target.choices:
                record(result, target.name, label, reviewer, request=request)
                count += 1
    return count
