"""A committable record of a (possibly unfinished) training run: command and learning curve.

Training state lives under ``var/`` (``last.pt`` is tens of MB and machine-local); a later
session or machine may not have it. This writes the small part worth keeping in the
repository: the exact command, how to resume it, and every epoch's metrics::

    python -m ml.progress var/train/fer5 --out ml/weights/training/emotion_cnn_stage4.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def _shipped_weights(run: dict[str, Any]) -> str:
    """The shipped file a lost run of this kind restarts from."""
    if run.get("args", {}).get("kind") == "mini_xception":
        return "ml/weights/mini_xception_fer.pt"
    return "ml/weights/fer_emotion_cnn.pt"


def training_record(run_dir: Path, note: str = "") -> dict[str, Any]:
    """Command, resume instructions and learning curve of the run in ``run_dir``."""
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    metrics = run_dir / "metrics.jsonl"
    history = (
        [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.exists() else []
    )
    argv = [a for a in run.get("argv", []) if a != "--resume"]
    command = "python -m ml.train " + " ".join(argv) if argv else ""
    if not command and (run_dir / "command.txt").exists():  # runs started before run.json
        command = (run_dir / "command.txt").read_text().strip().removesuffix(" --resume")
    best = max(history, key=lambda r: r["val_acc"]) if history else None
    epochs = run.get("args", {}).get("epochs")
    words = command.split()
    if epochs is None and "--epochs" in words[:-1]:
        epochs = int(words[words.index("--epochs") + 1])
    return {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_dir": str(run_dir),
        "command": command,
        "resume": f"{command} --resume" if command else "",
        "if_run_dir_is_lost": "restart with the same command plus --init-from the best "
        f"exported weights ({_shipped_weights(run)}); the schedule starts over",
        "epochs_done": len(history),
        "epochs_planned": epochs,
        "cpu_s": round(sum(r.get("cpu_s", 0.0) for r in history), 3),
        "cpu_hours": round(sum(r.get("cpu_s", 0.0) for r in history) / 3600, 3),
        "wall_hours": round(
            sum(r.get("train_time_s", 0.0) + r.get("eval_time_s", 0.0) for r in history) / 3600, 3
        ),
        "best_epoch": best["epoch"] if best else None,
        "best_val_acc": best["val_acc"] if best else None,
        "split": "validation (FER2013 PublicTest): selects the epoch, so optimistic",
        "note": note,
        "history": history,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ml.progress", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--note", default="", help="free-form status line for the next reader")
    args = p.parse_args(argv)
    record = training_record(args.run_dir, args.note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "history"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
