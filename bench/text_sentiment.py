"""Speed of the text_sentiment analyzer: batched versus one text at a time, same run.

Both variants score the same texts with the same loaded analyzer, alternating for
``--rounds`` rounds (best kept, machines are noisy):

* ``one_at_a_time``: ``analyze([item])`` per text, what a naive worker loop does;
* ``batched``: ``analyze(items)`` in batches of ``spec.max_batch_size`` (64), as a worker
  calls it with micro-batches across submissions.

Texts are TweetEval sentiment validation tweets when ``../shared/datasets`` is present,
otherwise a built-in set of post-like sentences. The parent checks that both variants
gave the same labels, then prints texts/s for each and the ratio, and a JSON line::

    .venv/bin/python bench/text_sentiment.py --texts 512 --threads 2 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FALLBACK = [
    "Loving the new update, the app is so much faster now 😍",
    "Waited 45 minutes on hold and then they hung up on me. Unbelievable. @user",
    "The store on Main Street opens at 9am tomorrow.",
    "Not sure how I feel about the redesign, some good bits, some bad #ux",
    "Best coffee in town, hands down ☕️ https://example.com/review",
    "My order arrived broken for the second time this month",
]


def texts(count: int) -> list[str]:
    from ml.text.data import DATASETS, read_lines

    path = DATASETS / "tweeteval" / "sentiment" / "val_text.txt"
    pool = read_lines(path) if path.is_file() else FALLBACK
    return [pool[i % len(pool)] for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--texts", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args = p.parse_args(argv)

    import torch
    from emotionhub_text_sentiment.analyzer import TextSentimentAnalyzer

    from emotionhub.analyzers.contract import Item

    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    analyzer = TextSentimentAnalyzer()
    analyzer.load(device)
    batch = TextSentimentAnalyzer.spec.max_batch_size
    items = [
        Item(id=str(i), kind="text", mime="text/plain", text=t)
        for i, t in enumerate(texts(args.texts))
    ]
    analyzer.analyze(items[:batch])  # warm-up: first-call allocations, language model

    def one_at_a_time() -> list:
        return [analyzer.analyze([item])[0] for item in items]

    def batched() -> list:
        out = []
        for start in range(0, len(items), batch):
            out += analyzer.analyze(items[start : start + batch])
        return out

    best: dict[str, float] = {}
    labels: dict[str, list] = {}
    for _ in range(args.rounds):
        for name, fn in (("one_at_a_time", one_at_a_time), ("batched", batched)):
            t0 = time.perf_counter()
            results = fn()
            rate = len(items) / (time.perf_counter() - t0)
            best[name] = max(best.get(name, 0.0), rate)
            labels[name] = [r.payload["label"] for r in results]
    agree = sum(a == b for a, b in zip(labels["batched"], labels["one_at_a_time"], strict=True))
    ratio = best["batched"] / best["one_at_a_time"]
    print(f"device {device}  threads {args.threads}  texts {len(items)}  batch {batch}")
    for name, rate in best.items():
        print(f"{name:14s} {rate:8.1f} texts/s")
    print(f"batched / one_at_a_time = {ratio:.2f}x; labels agree on {agree}/{len(items)}")
    print(
        json.dumps(
            {
                "device": device,
                "texts_per_s": best,
                "ratio": ratio,
                "agree": agree,
                "n": len(items),
                "threads": args.threads,
            }
        )
    )
    return 0 if agree == len(items) else 1


if __name__ == "__main__":
    sys.exit(main())
