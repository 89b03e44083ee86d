"""Command lines of tiny CPU training runs on the FER-layout fixtures of conftest.py."""

from __future__ import annotations

from pathlib import Path


def train_argv(data: Path, out: Path, batch_size: int = 4, tiny_net: bool = True) -> list[str]:
    """``python -m ml.train`` arguments: train and validate on ``data``, one thread, no cache;
    with ``tiny_net`` a 4/8-channel network and no progress lines."""
    argv = ["fer", "--train", str(data), "--val", str(data), "--out", str(out)]
    argv += ["--cache-dir", "", "--batch-size", str(batch_size), "--threads", "1"]
    argv += ["--device", "cpu"]
    if tiny_net:
        argv += ["--widths", "4,8", "--hidden", "8", "--log-every", "0"]
    return argv
