"""Face-detection benchmark: recall, precision, mean IoU and speed per detector, same run.

The photographs and their hand-counted faces are ``tests/data/detection/labels.json``
(real photos from this repository and from PyPI packages, fetched into
``var/detection-photos`` by ``ml.detection.photo_set.fetch``; see
``tests/data/detection/README.md``). Every detector sees every image once, alone (as the
analyzer's naive path would), after a warm-up pass; a detection matches a labelled face at
IoU >= 0.4 (greedy, best first), detections on ``ignore`` regions count neither way. Faces
are kept at the analyzer's default score threshold for that detector. Example::

    python bench/face_detection.py --threads 1
    python bench/face_detection.py --detectors blazeface mtcnn --json var/face_detection.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins" / "facial_emotion"))

from ml.shipped import FACE_DETECTORS  # noqa: E402 - after the path set-up

DETECTORS = tuple(FACE_DETECTORS)


def evaluate(name: str, photos: list, images: dict, device: str) -> dict[str, Any]:
    from ml.detection import make_detector
    from ml.detection.photo_set import match

    detector = make_detector(name, device=device)
    minimum = FACE_DETECTORS[name].min_score
    for photo in photos[:3]:  # warm-up: first-call allocations are not timed
        detector.detect([images[photo.name]])
    totals = defaultdict(int)
    per_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ious: list[float] = []
    seconds = 0.0
    rows = []
    for photo in photos:
        start = time.perf_counter()
        found = detector.detect([images[photo.name]])[0]
        seconds += time.perf_counter() - start
        boxes = [f.box for f in found if f.score >= minimum]
        result = match(photo, boxes)
        totals["tp"] += result.true_positives
        totals["fp"] += result.false_positives
        totals["missed"] += result.missed
        ious += result.ious
        for tag in photo.tags:
            per_tag[tag][0] += result.true_positives
            per_tag[tag][1] += len(photo.faces)
            if not photo.faces:
                per_tag[tag][0] += result.false_positives  # no-face tags count false faces
        rows.append(
            {
                "photo": photo.name,
                "faces": len(photo.faces),
                "found": result.true_positives,
                "false": result.false_positives,
            }
        )
    labelled = totals["tp"] + totals["missed"]
    reported = totals["tp"] + totals["fp"]
    return {
        "detector": name,
        "min_score": minimum,
        "faces": labelled,
        "found": totals["tp"],
        "false_positives": totals["fp"],
        "recall": round(totals["tp"] / labelled, 3) if labelled else None,
        "precision": round(totals["tp"] / reported, 3) if reported else None,
        "mean_iou": round(sum(ious) / len(ious), 3) if ious else None,
        "images_per_s": round(len(photos) / seconds, 2),
        "ms_per_image": round(1000 * seconds / len(photos), 1),
        "by_tag": {tag: f"{hit}/{total}" for tag, (hit, total) in sorted(per_tag.items())},
        "images": rows,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detectors", nargs="+", choices=DETECTORS, default=list(DETECTORS))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import cv2
    import torch

    from ml.detection.photo_set import fetch, image_of, load_labels

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    photos = load_labels()
    fetch(photos)
    by_name = {p.name: p for p in photos}
    images = {p.name: image_of(p, by_name) for p in photos}
    faces = sum(len(p.faces) for p in photos)
    print(
        f"face_detection bench: {len(photos)} photos, {faces} hand-counted faces, "
        f"{args.threads} thread(s), device {args.device}; load average {os.getloadavg()[0]:.2f}"
    )
    reports = [evaluate(name, photos, images, args.device) for name in args.detectors]
    print(f"  {'detector':10s} recall precision mean-IoU false  ms/image")
    for r in reports:
        print(
            f"  {r['detector']:10s} {r['recall']:6.3f} {r['precision'] or 0:9.3f} "
            f"{r['mean_iou'] or 0:8.3f} {r['false_positives']:5d} {r['ms_per_image']:9.1f}"
        )
    tags = sorted({t for p in photos for t in p.tags})
    print("  found per tag (no-face tags: false faces):")
    for tag in tags:
        print(f"    {tag:16s} " + "  ".join(f"{r['detector']} {r['by_tag'][tag]}" for r in reports))
    print("  per photo (found/faces, +false):")
    for i, photo in enumerate(photos):
        cells = [
            f"{r['images'][i]['found']}/{photo.faces.__len__()}+{r['images'][i]['false']}"
            for r in reports
        ]
        print(f"    {photo.name:26s} " + "  ".join(f"{c:>7s}" for c in cells))
    summary = {
        "bench": "face_detection",
        "threads": args.threads,
        "photos": len(photos),
        "faces": faces,
        "detectors": reports,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
    print(
        json.dumps(
            {
                r["detector"]: {
                    k: r[k] for k in ("recall", "precision", "mean_iou", "ms_per_image")
                }
                for r in reports
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
