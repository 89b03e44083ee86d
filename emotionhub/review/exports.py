"""Reviewed labels as training data for ``ml/``, and as CSV.

* faces: a zip of ``<class>/<result>_<face>.jpg`` crops cut from the stored image with the
  face's box, and ``<class>/<result>_track<id>_<k>.jpg`` crops of a video face track's
  keyframes, and ``<class>/<result>_added<n>.jpg`` for faces the detector missed and a
  reviewer drew: the layout ``python -m ml.evaluate fer --data`` and training read (boxes
  marked "not a face" are left out: they are no expression class);
* text: a zip of ``text.txt`` (one text per line) and ``labels.txt`` (0 negative, 1 neutral,
  2 positive), for ``python -m ml.evaluate tweet-sentiment --text … --labels …``;
* CSV: every current label with who reviewed it and when.

Only each target's current label is exported; history stays in the admin.
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO

from django.db.models import Q
from PIL import Image, UnidentifiedImageError

from emotionhub.accounts.models import Tenant
from emotionhub.review.models import ADDED_PREFIX, POST_TARGET, ReviewLabel
from emotionhub.review.targets import NOT_A_FACE, SENTIMENT_LABELS, Target, target_named

TEXT_LABEL_IDS = {label: i for i, label in enumerate(SENTIMENT_LABELS)}
CSV_COLUMNS = [
    "result",
    "media",
    "analyzer",
    "model_version",
    "target",
    "model_label",
    "reviewed_label",
    "corrected",
    "reviewer",
    "reviewed_at",
    "text",
]
SPOOL_BYTES = 32 * 1024 * 1024


def current_labels(tenant: Tenant | None):
    queryset = ReviewLabel.objects.filter(current=True).select_related(
        "result", "result__media", "reviewer"
    )
    if tenant is not None:
        queryset = queryset.filter(tenant=tenant)
    return queryset.order_by("reviewed_at", "id")


def csv_rows(tenant: Tenant | None) -> Iterator[list[str]]:
    yield CSV_COLUMNS
    for label in current_labels(tenant):
        media = label.result.media
        yield [
            str(label.result_id),
            str(media.pk),
            label.result.analyzer,
            label.result.model_version,
            label.target,
            label.model_label,
            label.reviewed_label,
            "1" if label.corrected else "0",
            label.reviewer.get_username() if label.reviewer else "",
            label.reviewed_at.isoformat(),
            media.text if media.kind == "text" else "",
        ]


def write_csv(tenant: Tenant | None) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(tenant))
    return out.getvalue()


def _crop(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image | None:
    x1, y1, x2, y2 = box
    left, top = max(0, int(x1)), max(0, int(y1))
    right, bottom = min(image.width, round(x2)), min(image.height, round(y2))
    if right - left < 2 or bottom - top < 2:
        return None
    return image.crop((left, top, right, bottom))


def _open_image(media) -> Image.Image | None:
    try:
        with media.file.open("rb") as handle:
            return Image.open(handle).convert("RGB")
    except (OSError, ValueError, UnidentifiedImageError):
        return None


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def video_frame(media, at_s: float) -> Image.Image | None:
    """The stored video's frame at ``at_s`` seconds, or None when it cannot be read."""
    from ml.video import VideoDecodeError, read_frame

    try:
        path = media.file.path
    except (NotImplementedError, ValueError):
        return None
    try:
        return Image.fromarray(read_frame(path, at_s))
    except (VideoDecodeError, OSError, ValueError):
        return None


def track_crops(media, target: Target) -> Iterator[tuple[int, Image.Image]]:
    """(keyframe number, face crop) for each readable keyframe of a video track."""
    for k, (at_s, box) in enumerate(target.keyframes):
        frame = video_frame(media, at_s)
        crop = _crop(frame, box) if frame is not None else None
        if crop is not None:
            yield k, crop


def write_faces_zip(tenant: Tenant | None) -> tuple[IO[bytes], int]:
    """The zip (rewound) and how many crops it holds; unreadable media are skipped."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned
    count = 0
    labels = (
        current_labels(tenant)
        .exclude(reviewed_label=NOT_A_FACE)
        .filter(
            Q(target__startswith="face:", result__media__kind="image")
            | Q(target__startswith=ADDED_PREFIX, result__media__kind="image")
            | Q(target__startswith="track:", result__media__kind="video")
        )
    )
    images: dict[object, Image.Image | None] = {}
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        for label in labels:
            media = label.result.media
            target = target_named(label.result, label.target)
            if target is None:
                continue
            if media.kind == "video":
                for k, keyframe_crop in track_crops(media, target):
                    name = f"{label.reviewed_label}/{label.result_id}_track{target.name[6:]}_{k}"
                    archive.writestr(f"{name}.jpg", _jpeg(keyframe_crop))
                    count += 1
                continue
            if media.pk not in images:
                images.clear()  # labels are grouped by time, not media: keep one image open
                images[media.pk] = _open_image(media)
            image = images[media.pk]
            crop = _crop(image, target.box) if image is not None and target.box else None
            if crop is None:
                continue
            suffix = target.face_index if target.face_index is not None else target.name[6:]
            if target.name.startswith(ADDED_PREFIX):
                suffix = f"added{target.name[len(ADDED_PREFIX) :]}"
            name = f"{label.reviewed_label}/{label.result_id}_{suffix}.jpg"
            archive.writestr(name, _jpeg(crop))
            count += 1
    spool.seek(0)
    return spool, count


def text_pairs(tenant: Tenant | None) -> list[tuple[str, int]]:
    labels = current_labels(tenant).filter(target=POST_TARGET, result__media__kind="text")
    pairs = []
    for label in labels:
        text = " ".join(label.result.media.text.split())
        if text and label.reviewed_label in TEXT_LABEL_IDS:
            pairs.append((text, TEXT_LABEL_IDS[label.reviewed_label]))
    return pairs


def write_text_zip(tenant: Tenant | None) -> tuple[bytes, int]:
    pairs = text_pairs(tenant)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("text.txt", "".join(f"{text}\n" for text, _ in pairs))
        archive.writestr("labels.txt", "".join(f"{label}\n" for _, label in pairs))
    return buffer.getvalue(), len(pairs)
