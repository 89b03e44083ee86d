"""How often each analyzer and model version agrees with the reviewers.

Reviewed labels are the truth and model labels the predictions, per analyzer and model
version, using ``ml.metrics.classification_report`` (the same numbers ``ml.evaluate``
prints, so a model card and this report can be compared directly).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from emotionhub.accounts.models import Tenant
from emotionhub.review.exports import current_labels
from emotionhub.review.models import ADDED_PREFIX
from emotionhub.review.targets import FACE_LABELS, NOT_A_FACE, SENTIMENT_LABELS, face_analyzers
from ml.metrics import classification_report


def _classes(analyzer: str, seen: set[str]) -> list[str]:
    known = FACE_LABELS if analyzer in face_analyzers() else SENTIMENT_LABELS
    return list(known) + sorted(seen - set(known))


def agreement(tenant: Tenant | None) -> list[dict[str, Any]]:
    """One report per (analyzer, model version), sorted; unlabelled predictions counted apart."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    unlabelled: dict[tuple[str, str], int] = defaultdict(int)
    rows = current_labels(tenant).values_list(
        "result__analyzer", "result__model_version", "target", "model_label", "reviewed_label"
    )
    for analyzer, version, target, predicted, truth in rows:
        if target.startswith(ADDED_PREFIX) or truth == NOT_A_FACE:
            continue  # the detector's errors, not the expression model's: see detection()
        if predicted:
            groups[(analyzer, version)].append((truth, predicted))
        else:
            unlabelled[(analyzer, version)] += 1
    reports = []
    for (analyzer, version), pairs in sorted(groups.items()):
        classes = _classes(analyzer, {label for pair in pairs for label in pair})
        index = {name: i for i, name in enumerate(classes)}
        y_true = np.array([index[truth] for truth, _ in pairs])
        y_pred = np.array([index[predicted] for _, predicted in pairs])
        report = classification_report(y_true, y_pred, classes)
        reports.append(
            {
                "analyzer": analyzer,
                "model_version": version,
                "classes": classes,
                "unlabelled": unlabelled.pop((analyzer, version), 0),
                **report,
                "confusion_rows": list(zip(classes, report["confusion_matrix"], strict=True)),
            }
        )
    return reports


def detection(tenant: Tenant | None) -> list[dict[str, Any]]:
    """How the face detector did, per analyzer and model version, from the reviews:
    confirmed faces (labelled with an expression), boxes marked "not a face" (false
    positives: precision) and faces reviewers drew because it missed them (recall)."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"confirmed": 0, "not_a_face": 0, "missed": 0}
    )
    rows = (
        current_labels(tenant)
        .filter(result__analyzer__in=face_analyzers())
        .values_list("result__analyzer", "result__model_version", "target", "reviewed_label")
    )
    for analyzer, version, target, truth in rows:
        if target.startswith(ADDED_PREFIX):
            if truth != NOT_A_FACE:
                counts[(analyzer, version)]["missed"] += 1
        elif truth == NOT_A_FACE:
            counts[(analyzer, version)]["not_a_face"] += 1
        else:
            counts[(analyzer, version)]["confirmed"] += 1
    out = []
    for (analyzer, version), c in sorted(counts.items()):
        found = c["confirmed"] + c["not_a_face"]
        real = c["confirmed"] + c["missed"]
        out.append(
            {
                "analyzer": analyzer,
                "model_version": version,
                **c,
                "precision": c["confirmed"] / found if found else None,
                "recall": c["confirmed"] / real if real else None,
            }
        )
    return out
