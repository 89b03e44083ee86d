"""Speed of the facial-emotion analyzer: detectors compared, batched versus a naive loop.

Every variant runs in the same invocation on the same workload of real photographs (the
portraits in ``tests/data/photos`` and the examples in ``docs/examples``, cycled to
``--images`` files at their own sizes), each in a fresh subprocess so that its peak RSS is its
own (``ru_maxrss`` covers imports, model loading, warm-up and the timed run, i.e. what a
worker process would hold). A variant is ``DETECTOR:MODE`` for each of ``--detectors``
(default ``blazeface`` and ``mtcnn``) and each mode:

* ``naive``: what a straightforward implementation does, one image at a time: load it, run the
  detector on it alone, align each face and classify the faces one by one. It uses the same
  detector (``make_detector(name)`` with its defaults), the same classifier and the same
  analyzer settings (``min_face_score``, ``max_faces``) as the analyzer.
* ``batched``: ``FacialEmotionAnalyzer.analyze`` on batches of ``spec.max_batch_size`` items,
  as a worker calls it, with that detector.

The parent checks that both modes of a detector found the same faces with the same boxes
and probabilities (so the speed-up is not bought with different answers), prints images/s,
the batched/naive ratio per detector, each detector's end-to-end speed against the first
detector's baseline ``mtcnn:batched`` (today's pipeline) when it is measured, the peak RSS of
each, and a final JSON line for scripts. Example::

    .venv/bin/python bench/facial_emotion.py --images 64 --threads 1 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Real photographs with known content: one face each, except coffee and chelsea (none).
PHOTOS = (
    "tests/data/photos/obama.jpg",
    "tests/data/photos/obama2.jpg",
    "tests/data/photos/obama3.jpg",
    "tests/data/photos/biden.jpg",
    "tests/data/photos/obama_rgba.png",
    "docs/examples/astronaut.jpg",
    "docs/examples/camera.jpg",
    "docs/examples/coffee.jpg",
    "docs/examples/chelsea.jpg",
)
MODES = ("naive", "batched")
#: Today's pipeline before BlazeFace: the end-to-end speed-ups are measured against it.
BASELINE = "mtcnn:batched"

# One image's outcome: a list of faces, each {"box": [4], "score": s, "emotions": [7]}.
Faces = list[dict[str, Any]]


def workload(count: int) -> list[Path]:
    """``count`` photo paths, cycling through :data:`PHOTOS` in order."""
    return [ROOT / PHOTOS[i % len(PHOTOS)] for i in range(count)]


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; as the worker's ``select_device``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    return device


def _synchronize(device: str) -> None:
    """Wait for queued GPU work, so the clock covers all of it."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


class NaiveLoop:
    """One image at a time, as a first implementation without batching would do it."""

    def __init__(self, device: str, model: str, detector: str) -> None:
        from emotionhub_facial_emotion.analyzer import MIN_FACE_SCORE, SETTINGS_SCHEMA
        from emotionhub_facial_emotion.classifiers import load_classifier

        from ml.detection import make_detector

        defaults = {k: v["default"] for k, v in SETTINGS_SCHEMA["properties"].items()}
        self.min_face_score = defaults["min_face_score"] or MIN_FACE_SCORE[detector]
        self.max_faces = defaults["max_faces"]
        self.detector = make_detector(detector, device=device)
        self.classifier = load_classifier(model, device)

    def run(self, paths: Sequence[Path], batch_size: int) -> list[Faces]:
        from ml.detection import align_face, load_image

        out = []
        for path in paths:
            image = load_image(path)
            found = self.detector.detect([image])[0]
            kept = sorted(
                (f for f in found if f.score >= self.min_face_score),
                key=lambda f: f.score,
                reverse=True,
            )[: self.max_faces]
            faces = []
            for face in kept:
                crop = align_face(image, face, output_size=48)
                probs = self.classifier.predict_proba(crop[None])[0]
                faces.append(
                    {"box": list(face.box), "score": face.score, "emotions": probs.tolist()}
                )
            out.append(faces)
        return out


class BatchedAnalyzer:
    """The analyzer itself, on batches of ``batch_size`` items (no Django needed)."""

    def __init__(self, device: str, model: str, detector: str) -> None:
        from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer

        self.model = model
        self.detector = detector
        self.analyzer = FacialEmotionAnalyzer()
        self.analyzer.load(device)

    def run(self, paths: Sequence[Path], batch_size: int) -> list[Faces]:
        from emotionhub.analyzers.contract import AnalyzerError, Item

        out: list[Faces] = []
        for start in range(0, len(paths), batch_size):
            items = [
                Item(
                    id=str(start + n),
                    kind="image",
                    mime="image/png" if path.suffix == ".png" else "image/jpeg",
                    path=path,
                    settings={"model": self.model, "detector": self.detector},
                )
                for n, path in enumerate(paths[start : start + batch_size])
            ]
            for item, outcome in zip(items, self.analyzer.analyze(items), strict=True):
                if isinstance(outcome, AnalyzerError):
                    raise RuntimeError(f"{item.path}: {outcome!r}")
                out.append(
                    [
                        {
                            "box": face["box"],
                            "score": face["score"],
                            "emotions": list(face["emotions"].values()),
                        }
                        for face in outcome.payload["faces"]
                    ]
                )
        return out


def measure(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one variant in this process: load, warm up, time the workload, read peak RSS."""
    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    device = resolve_device(args.device)
    started = time.perf_counter()
    detector, mode = variant.split(":")
    runner = (NaiveLoop if mode == "naive" else BatchedAnalyzer)(device, args.model, detector)
    paths = workload(args.images)
    # Warm-up on one batch (and every photo once), so lazy loading and first-call
    # allocations are not timed: a worker pays them once, not per batch.
    runner.run(workload(max(args.batch_size, len(PHOTOS))), args.batch_size)
    _synchronize(device)
    load_s = time.perf_counter() - started
    start = time.perf_counter()
    results = runner.run(paths, args.batch_size)
    _synchronize(device)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report: dict[str, Any] = {
        "variant": variant,
        "device": device,
        "seconds": round(seconds, 3),
        "images_per_s": round(len(paths) / seconds, 2),
        "load_and_warmup_s": round(load_s, 2),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "results": results,
    }
    if device.startswith("cuda"):
        report["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return report


def run_variant(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Measure ``variant`` in a fresh interpreter; its last stdout line is the report."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--variant",
        variant,
        "--images",
        str(args.images),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--model",
        args.model,
        "--batch-size",
        str(args.batch_size),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{variant} run failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(
    naive: list[Faces], batched: list[Faces], paths: Sequence[Path]
) -> tuple[list[str], float, float]:
    """Differences beyond face counts, as messages, plus the largest box and probability gaps.

    The analyzer rounds boxes to 0.1 px and probabilities to 1e-4, so exact equality is not
    expected; the caller decides what is close enough.
    """
    problems = []
    box_gap = prob_gap = 0.0
    for path, ours, theirs in zip(paths, naive, batched, strict=True):
        if len(ours) != len(theirs):
            problems.append(f"{path.name}: naive found {len(ours)} faces, batched {len(theirs)}")
            continue
        for a, b in zip(ours, theirs, strict=True):
            box_gap = max(box_gap, *(abs(x - y) for x, y in zip(a["box"], b["box"], strict=True)))
            prob_gap = max(
                prob_gap, *(abs(x - y) for x, y in zip(a["emotions"], b["emotions"], strict=True))
            )
    return problems, box_gap, prob_gap


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=64, help="workload size (default 64)")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch and OpenCV threads per process (default: all cores)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--model", default=None, help="classifier (default: the analyzer's)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: the analyzer's max_batch_size"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternating runs per variant; best is kept"
    )
    parser.add_argument("--box-tol", type=float, default=2.0, help="px (default 2)")
    parser.add_argument("--prob-tol", type=float, default=0.01, help="(default 0.01)")
    parser.add_argument(
        "--detectors", nargs="+", default=["blazeface", "mtcnn"], help="(default: blazeface mtcnn)"
    )
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.model is None or args.batch_size is None:
        from emotionhub_facial_emotion.analyzer import DEFAULT_MODEL, FacialEmotionAnalyzer

        args.model = args.model or DEFAULT_MODEL
        args.batch_size = args.batch_size or FacialEmotionAnalyzer.spec.max_batch_size
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.variant:  # child process: measure and report on stdout
        print(json.dumps(measure(args.variant, args)))
        return 0
    load = os.getloadavg()
    print(
        f"facial_emotion bench: {args.images} images, batch {args.batch_size}, model "
        f"{args.model}, {args.threads} thread(s), device {args.device}; "
        f"load average {load[0]:.2f}"
    )
    variants = [f"{detector}:{mode}" for detector in args.detectors for mode in MODES]
    # Alternate the variants, so that a change in background load hits all; keep the best
    # round of each (the one least disturbed by other processes).
    rounds: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    for _ in range(args.rounds):
        for variant in variants:
            rounds[variant].append(run_variant(variant, args))
    reports = {v: max(runs, key=lambda r: r["images_per_s"]) for v, runs in rounds.items()}
    paths = workload(args.images)
    problems: list[str] = []
    per_detector: dict[str, dict[str, Any]] = {}
    for detector in args.detectors:
        naive, batched = reports[f"{detector}:naive"], reports[f"{detector}:batched"]
        box_gap = prob_gap = 0.0
        for ours, theirs in zip(
            rounds[f"{detector}:naive"], rounds[f"{detector}:batched"], strict=True
        ):
            found, box, prob = compare(ours["results"], theirs["results"], paths)
            problems += [f"{detector}: {message}" for message in found]
            box_gap, prob_gap = max(box_gap, box), max(prob_gap, prob)
        if box_gap > args.box_tol:
            problems.append(f"{detector}: boxes differ by up to {box_gap:.2f} px")
        if prob_gap > args.prob_tol:
            problems.append(f"{detector}: probabilities differ by up to {prob_gap:.4f}")
        per_detector[detector] = {
            "faces": sum(len(r) for r in batched["results"]),
            "ratio": round(batched["images_per_s"] / naive["images_per_s"], 2),
            "max_box_diff_px": round(box_gap, 3),
            "max_prob_diff": round(prob_gap, 5),
        }
    for variant, report in reports.items():
        extra = f", peak CUDA {report['peak_cuda_mb']} MB" if "peak_cuda_mb" in report else ""
        every = ", ".join(f"{r['images_per_s']:.2f}" for r in rounds[variant])
        print(
            f"  {variant:18s} {report['images_per_s']:8.2f} images/s "
            f"({report['seconds']:.2f} s), peak RSS {report['peak_rss_mb']:.0f} MB{extra}"
            + (f"; rounds: {every}" if args.rounds > 1 else "")
        )
    for detector, figures in per_detector.items():
        print(
            f"  {detector:10s} batched/naive {figures['ratio']:5.2f}x; {figures['faces']} faces "
            f"in {len(paths)} images; agreement: boxes within {figures['max_box_diff_px']:.2f} "
            f"px, probabilities within {figures['max_prob_diff']:.4f}"
        )
    if BASELINE in reports:
        base = reports[BASELINE]["images_per_s"]
        for variant, report in reports.items():
            if variant != BASELINE:
                ratio = report["images_per_s"] / base
                print(f"  {variant:18s} {ratio:5.2f}x {BASELINE} (end to end)")
                per_detector[variant.split(":")[0]][f"{variant.split(':')[1]}_vs_baseline"] = round(
                    ratio, 2
                )
    summary = {
        "bench": "facial_emotion",
        "device": next(iter(reports.values()))["device"],
        "threads": args.threads,
        "images": args.images,
        "batch_size": args.batch_size,
        "model": args.model,
        "load_average": round(load[0], 2),
        "rounds": args.rounds,
        "agree": not problems,
        "detectors": per_detector,
        **{
            name: {k: v for k, v in report.items() if k not in ("results", "variant", "device")}
            for name, report in reports.items()
        },
    }
    print(json.dumps(summary))
    for problem in problems:
        print(f"DISAGREEMENT: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
