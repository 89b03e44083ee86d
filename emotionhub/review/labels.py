"""Recording reviews: one new current label per target, the previous one kept as history."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from emotionhub.audit import Action
from emotionhub.audit import record as audit
from emotionhub.jobs.models import AnalysisResult
from emotionhub.review.models import ADDED_PREFIX, ReviewLabel, added_target
from emotionhub.review.targets import FACE_LABELS, face_analyzers, target_named, targets


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
            box=list(found.box) if target.startswith(ADDED_PREFIX) and found.box else None,
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


def add_missed_face(
    result: AnalysisResult, box, label: str, reviewer, *, request=None
) -> ReviewLabel:
    """A face the detector missed, drawn by a reviewer: training data, and a miss that
    counts against the detector's recall in the agreement report."""
    media = result.media
    if result.analyzer not in face_analyzers() or media.kind != "image":
        raise ReviewError("not_a_face_result", "Faces can be added to face results of images.")
    if label not in FACE_LABELS:
        choices = ", ".join(FACE_LABELS)
        raise ReviewError(
            "invalid_label", f"{label!r} is not a face label; choose one of {choices}."
        )
    width = (result.payload.get("image") or {}).get("width") or media.width
    height = (result.payload.get("image") or {}).get("height") or media.height
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ReviewError("invalid_box", "A box is four numbers: x1, y1, x2, y2.") from None
    if not (width and height and 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise ReviewError(
            "invalid_box", f"The box must lie inside the {width}x{height} image, corners in order."
        )
    if x2 - x1 < 8 or y2 - y1 < 8:
        raise ReviewError("invalid_box", "The box is smaller than 8x8 pixels: draw it again.")
    box = [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)]
    with transaction.atomic():
        taken = ReviewLabel.objects.select_for_update().filter(
            result=result, target__startswith=ADDED_PREFIX
        )
        numbers = [int(t.split(":", 1)[1]) for t in taken.values_list("target", flat=True)]
        target = added_target(max(numbers, default=0) + 1)
        reviewer = reviewer if getattr(reviewer, "pk", None) else None
        created = ReviewLabel.objects.create(
            tenant_id=result.tenant_id,
            result=result,
            target=target,
            model_label="",
            reviewed_label=label,
            reviewer=reviewer,
            box=box,
        )
        audit(
            Action.CORRECT,
            tenant=result.tenant_id,
            actor_user=reviewer,
            obj_type="result",
            obj_id=result.pk,
            details={"target": target, "model_label": "", "label": label, "box": box},
            request=request,
        )
    return created
