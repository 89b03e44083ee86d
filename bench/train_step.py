"""Cost of one FER2013 training step on the CPU, fp32 against bf16 autocast (issue 13).

Times what ``python -m ml.train fer`` does per step after augmentation: forward, loss,
backward and an SGD step of ``EmotionCNN`` on a channels-last batch of 48x48 faces, in
fp32 (the baseline) and under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (``--amp``),
measured in the same run. The ratio is what decides whether a whole from-scratch schedule
fits in a session on this project's 2 cores::

    python bench/train_step.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ml.models.emotion_cnn import ArchConfig, EmotionCNN


def time_step(cfg: ArchConfig, bf16: bool, batch: int, steps: int) -> float:
    """Best wall ms per face of ``steps`` training steps (after two warm-up steps)."""
    torch.manual_seed(0)
    net = EmotionCNN(cfg).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 1, 48, 48).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, cfg.num_classes, (batch,))
    best = float("inf")
    for i in range(steps + 2):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
            loss = F.cross_entropy(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:
            best = min(best, (time.perf_counter() - start) * 1000 / batch)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--widths", default="32,64,128,256;64,128,256,512")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = {}
    print(f"{args.threads} threads, batch {args.batch_size}, best of {args.steps} steps")
    print(f"{'widths':20} {'fp32 ms/face':>13} {'bf16 ms/face':>13} {'speed-up':>9}")
    for spec in args.widths.split(";"):
        widths = tuple(int(w) for w in spec.split(","))
        cfg = ArchConfig(widths=widths, hidden=max(256, widths[-1]))
        fp32 = time_step(cfg, False, args.batch_size, args.steps)
        bf16 = time_step(cfg, True, args.batch_size, args.steps)
        results[spec] = {"fp32_ms": fp32, "bf16_ms": bf16, "speedup": fp32 / bf16}
        print(f"{spec:20} {fp32:13.2f} {bf16:13.2f} {fp32 / bf16:8.2f}x")
    print(json.dumps({"threads": args.threads, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
