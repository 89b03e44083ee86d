"""Recording reviews: one new current label per target, the previous one kept as history."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from emotionhub.jobs.models import AnalysisResult
from emotionhub.review.models import ReviewLabel
from emotionhub.review.targets import target_named, targets


class ReviewError(ValueError):
    """A review that cannot be recorded; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def record(result: AnalysisResult, target: str, label: str, reviewer) -> ReviewLabel:
    """Label ``target`` of ``result``; re-recording the same label is a no-op."""
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
        return ReviewLabel.objects.create(
            tenant_id=result.tenant_id,
            result=result,
            target=target,
            model_label=found.model_label,
            reviewed_label=label,
            reviewer=reviewer if getattr(reviewer, "pk", None) else None,
        )


def accept_model_labels(results: Iterable[AnalysisResult], reviewer) -> int:
    """Bulk action: confirm the model's label of every not yet reviewed target."""
    count = 0
    for result in results:
        reviewed = set(
            ReviewLabel.objects.filter(result=result, current=True).values_list("target", flat=True)
        )
        for target in targets(result):
            if target.name not in reviewed and target.model_label in target.choices:
                record(result, target.name, target.model_label, reviewer)
                count += 1
    return count


def set_item_label(results: Iterable[AnalysisResult], label: str, reviewer) -> int:
    """Bulk action: give every whole-item target (text or image sentiment) one label."""
    count = 0
    for result in results:
        for target in targets(result):
            if target.face_index is None and label in target.choices:
                record(result, target.name, label, reviewer)
                count += 1
    return count
