"""Train the facial-expression CNN on FER2013.

    python -m ml.train fer --epochs 30 --out var/train/fer [--resume]

Protocol (see shared/datasets/README.md): fit on ``train.zip``, select the checkpoint on
``val.zip`` (FER2013 PublicTest). Val figures are validation figures, never test figures.

Every epoch writes ``last.pt`` (full resumable state) and, when validation accuracy
improves, ``best.pt`` (a self-contained model checkpoint), both atomically, so a run that
is killed loses at most one epoch and ``--resume`` continues it bit-for-bit on the same
machine: all randomness is derived from ``--seed`` and the epoch number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ml.checkpoint import arch_dict, atomic_save, load_training_state, training_state
from ml.data.augment import augment, mix_batch, random_erase
from ml.data.fer import DEFAULT_DATA, FER_CLASSES, load_fer_cached
from ml.distill import soft_cross_entropy, soft_targets, teacher_log_probs
from ml.inference import predict_logits
from ml.metrics import classification_report
from ml.models import mini_xception
from ml.models.emotion_cnn import (
    ArchConfig,
    EmotionCNN,
    ModelInfo,
    center_crop,
    make_checkpoint,
)
from ml.schedule import lr_factor
from ml.threads import ThreadTuner

__all__ = ["DEFAULT_DATA", "PRESETS", "build_parser", "main", "parse_args", "train_fer"]


def log(msg: str) -> None:
    """Timestamped, flushed line: the log is tailed while a niced job runs for hours."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


#: Named sets of defaults (``--preset``); flags given explicitly still win.
PRESETS: dict[str, dict[str, Any]] = {
    # One modern GPU: the whole uint8 training set lives on the device and is augmented
    # there (no host round trip per batch), bf16/fp16 autocast, channels-last. A wider
    # network and a longer schedule than the CPU runs, still minutes of GPU time.
    "gpu": {
        "device": "cuda",
        "data_on_device": True,
        "amp": True,
        "widths": "64,128,256,512",
        "hidden": 512,
        "batch_size": 256,
        "lr": 0.1,
        "epochs": 100,
        "ema": 0.999,
        "mixup": 0.2,
        "cutmix": 1.0,
        "mix_prob": 0.5,
        "log_every": 0,
    },
    # This project's 2 shared CPU cores: continue from shipped weights (pass --init-from),
    # one thread, EMA of the weights and soft labels from the shipped ensemble.
    "cpu": {
        "threads": "1",
        "lr": 0.01,
        "schedule": "cosine",
        "ema": 0.998,
        "distill": "ensemble",
        "distill_weight": 0.5,
        "distill_temp": 2.0,
    },
}


def build_parser() -> argparse.ArgumentParser:
    """CLI definition (kept separate so tests and docs can introspect it)."""
    p = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="task", required=True)
    f = sub.add_parser("fer", help="facial expressions (FER2013, 7 classes)")
    f.add_argument("--train", type=Path, default=DEFAULT_DATA / "train.zip")
    f.add_argument("--val", type=Path, default=DEFAULT_DATA / "val.zip")
    f.add_argument("--out", type=Path, default=Path("var/train/fer"))
    f.add_argument(
        "--cache-dir",
        type=Path,
        default=Path("var/train"),
        help="where decoded .npz copies of the zips are kept ('' = no cache)",
    )
    f.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="a named set of defaults (see ml.train.PRESETS); explicit flags override it",
    )
    f.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    f.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start from the weights of this model checkpoint (e.g. the shipped "
        "ml/weights/fer_emotion_cnn.pt) with a fresh optimizer and schedule",
    )
    f.add_argument("--epochs", type=int, default=30)
    f.add_argument("--batch-size", type=int, default=128)
    f.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd")
    f.add_argument("--lr", type=float, default=0.1, help="peak learning rate")
    f.add_argument("--weight-decay", type=float, default=5e-4)
    f.add_argument(
        "--schedule",
        choices=["onecycle", "cosine"],
        default="onecycle",
        help="onecycle = 15%% linear warm-up then cosine; cosine = no warm-up",
    )
    f.add_argument(
        "--time-budget",
        type=float,
        default=0.0,
        help="seconds of training (summed over resumes): the LR schedule follows "
        "max(step fraction, time fraction) and training stops when either "
        "reaches 1 (0 = step-based only, fully reproducible)",
    )
    f.add_argument("--label-smoothing", type=float, default=0.1)
    f.add_argument(
        "--kind",
        choices=["vgg", "resnet", "mini_xception"],
        default="vgg",
        help="mini_xception: the ported network (ml/models/mini_xception.py), fine-tuned "
        "from --init-from ml/weights/mini_xception_fer.pt; --widths/--hidden/--dropout and "
        "--input-size do not apply",
    )
    f.add_argument("--widths", default="32,64,128,256")
    f.add_argument("--convs-per-stage", type=int, default=2)
    f.add_argument("--hidden", type=int, default=256)
    f.add_argument("--dropout", type=float, default=0.4)
    f.add_argument("--input-size", type=int, default=48, help="train crop / eval centre crop")
    f.add_argument("--rotate", type=float, default=10.0, help="max rotation, degrees")
    f.add_argument("--zoom", type=float, default=0.1, help="max relative scale change")
    f.add_argument("--shift", type=float, default=4.0, help="max shift in pixels (pad-crop)")
    f.add_argument("--jitter", type=float, default=0.2, help="brightness/contrast jitter")
    f.add_argument("--erase-p", type=float, default=0.5, help="random-erasing probability")
    f.add_argument(
        "--threads",
        default="2",
        help="torch intra-op threads on CPU, or 'auto' to switch between 1 and 2 "
        "by measured speed (see ThreadTuner)",
    )
    f.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    f.add_argument(
        "--data-on-device",
        action="store_true",
        help="keep the uint8 training set on --device and augment there (GPU preset)",
    )
    f.add_argument(
        "--amp",
        action="store_true",
        help="autocast (bf16, or fp16 with loss scaling on GPUs without bf16); on by "
        "default on CUDA",
    )
    f.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="decay of an exponential moving average of the weights, updated every step "
        "(0 = off); the EMA and raw weights are both validated and the better is kept",
    )
    f.add_argument("--mixup", type=float, default=0.0, help="mixup Beta alpha (0 = off)")
    f.add_argument("--cutmix", type=float, default=0.0, help="CutMix Beta alpha (0 = off)")
    f.add_argument("--mix-prob", type=float, default=1.0, help="share of batches mixed")
    f.add_argument(
        "--distill",
        default="",
        help="teacher for soft labels: a shipped model name (e.g. ensemble) or file",
    )
    f.add_argument("--distill-weight", type=float, default=0.5, help="teacher's target share")
    f.add_argument("--distill-temp", type=float, default=2.0, help="softening of teacher")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--limit", type=int, default=0, help="use only N train/val images (smoke)")
    f.add_argument(
        "--stop-after",
        type=int,
        default=0,
        help="end this invocation after epoch N (the schedule stays that of --epochs; "
        "continue with --resume)",
    )
    f.add_argument("--log-every", type=int, default=50, help="progress line every N steps")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse with ``--preset`` applied as defaults, so explicit flags override it."""
    parser = build_parser()
    first, _ = parser.parse_known_args(argv)
    preset = getattr(first, "preset", None)
    if preset:
        tasks = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        tasks.choices[first.task].set_defaults(**PRESETS[preset])
    args = parser.parse_args(argv)
    args.command_argv = list(sys.argv[1:] if argv is None else argv)
    return args


def _arch_from_args(args: argparse.Namespace) -> ArchConfig:
    return ArchConfig(
        kind=args.kind,
        widths=tuple(int(w) for w in str(args.widths).split(",")),
        convs_per_stage=args.convs_per_stage,
        num_classes=len(FER_CLASSES),
        hidden=args.hidden,
        dropout=args.dropout,
    )


def _val_preprocess(
    mean: float,
    std: float,
    input_size: int,
    device: torch.device,
    memory_format: torch.memory_format = torch.channels_last,
):
    """uint8 faces -> normalised, centre-cropped input on ``device``."""

    def preprocess(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images).to(device).unsqueeze(1).float() / 255
        x = (center_crop(x, input_size) - mean) / std
        return x.contiguous(memory_format=memory_format)

    return preprocess


def train_fer(args: argparse.Namespace) -> dict[str, Any]:
    """Run (or resume) a FER2013 training; returns the best validation summary."""
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    tuner = None
    if not cuda:
        if args.threads == "auto":
            tuner = ThreadTuner(tuple(range(1, (os.cpu_count() or 2) + 1))[:2] or (1,))
            torch.set_num_threads(tuner.current)
        else:
            torch.set_num_threads(int(args.threads))
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    cache = str(args.cache_dir) if str(args.cache_dir) else ""
    t0 = time.perf_counter()
    xtr, ytr = load_fer_cached(args.train, Path(cache) / "fer_train_cache.npz" if cache else None)
    xva, yva = load_fer_cached(args.val, Path(cache) / "fer_val_cache.npz" if cache else None)
    if args.limit:  # seeded random subset, so every class is represented
        rng = np.random.default_rng(args.seed)
        itr = np.sort(rng.permutation(len(xtr))[: args.limit])
        iva = np.sort(rng.permutation(len(xva))[: args.limit])
        xtr, ytr, xva, yva = xtr[itr], ytr[itr], xva[iva], yva[iva]
    # Normalisation statistics come from the training split only.
    mean = float(xtr.mean() / 255.0)
    std = float(xtr.std() / 255.0)
    log(
        f"data: train {xtr.shape} val {xva.shape} mean {mean:.4f} std {std:.4f} "
        f"({time.perf_counter() - t0:.1f}s)"
    )

    xception = args.kind == "mini_xception"
    if xception:
        # Its own input scaling, [-1, 1], whatever the data's statistics; FER's 48 px.
        mean, std, args.input_size = 0.5, 0.5, 48
        xcfg = mini_xception.MiniXceptionConfig()
        cfg: ArchConfig | mini_xception.MiniXceptionConfig = xcfg
        net: torch.nn.Module = mini_xception.FromFer48(mini_xception.MiniXception(xcfg))
    else:
        cfg = _arch_from_args(args)
        net = EmotionCNN(cfg)
    if args.init_from and not args.resume:
        init = torch.load(args.init_from, map_location="cpu", weights_only=True)
        init_into = net.net if isinstance(net, mini_xception.FromFer48) else net
        init_into.load_state_dict({k: v.float() for k, v in init["state_dict"].items()})
        log(f"initialised from {args.init_from}")
    # Module.to takes memory_format; the torch stubs lack that overload.
    # Channels-last, except mini-Xception on the CPU: torch 2.13's CPU backward of its
    # depthwise convolutions in channels-last crashes the process (segfault, measured).
    layout = torch.contiguous_format if xception and not cuda else torch.channels_last
    net = net.to(device).to(memory_format=layout)  # type: ignore[call-overload]
    n_params = sum(p.numel() for p in net.parameters())
    log(
        f"model: {cfg} params {n_params / 1e6:.2f}M device {device} "
        f"threads {torch.get_num_threads()}"
    )

    steps_per_epoch = math.ceil(len(xtr) / args.batch_size)
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, prm in net.named_parameters():
        (no_decay if prm.ndim <= 1 or name.endswith(".bias") else decay).append(prm)
    groups = [
        {"params": decay, "weight_decay": args.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if args.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            groups, lr=args.lr, momentum=0.9, nesterov=True
        )
    else:
        opt = torch.optim.AdamW(groups, lr=args.lr)
    total = args.epochs * steps_per_epoch
    warmup = 0.15 if args.schedule == "onecycle" else 0.0

    amp_dtype = None
    if cuda:
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        torch.backends.cudnn.benchmark = True
    elif args.amp:
        amp_dtype = torch.bfloat16
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and amp_dtype == torch.float16)

    def precision() -> AbstractContextManager[object]:
        """Autocast to ``amp_dtype`` (training and validation alike), or nothing."""
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()

    ema = (
        torch.optim.swa_utils.AveragedModel(
            net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema), use_buffers=True
        )
        if args.ema > 0
        else None
    )

    start_epoch, best_acc, history, gstep, elapsed = 0, -1.0, [], 0, 0.0
    last_path, best_path = out / "last.pt", out / "best.pt"
    if args.resume and last_path.exists():
        state = load_training_state(last_path, device)
        if state["arch"] != arch_dict(cfg):
            raise SystemExit(
                f"--resume: {last_path} has arch {state['arch']}, args give "
                f"{arch_dict(cfg)}; pass the same architecture flags"
            )
        if state["epochs"] != args.epochs:
            raise SystemExit(f"--resume: run was started with --epochs {state['epochs']}")
        net.load_state_dict(state["model"])
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        start_epoch, best_acc, history = state["epoch"], state["best_acc"], state["history"]
        gstep, elapsed = state["step"], state["elapsed_s"]
        log(f"resumed from {last_path} at epoch {start_epoch}, best val acc {best_acc:.4f}")
    elif args.resume:
        log(f"--resume: {last_path} not found, starting from scratch")

    teacher = None
    if args.distill:
        t_teach = time.perf_counter()
        teacher = torch.from_numpy(
            teacher_log_probs(
                args.distill,
                xtr,
                Path(cache) / f"teacher_{Path(str(args.distill)).stem}_{len(xtr)}.npz"
                if cache
                else None,
            )
        )
        agree = float((teacher.argmax(1).numpy() == ytr).mean())
        log(
            f"teacher {args.distill}: train agreement {agree:.4f} "
            f"({time.perf_counter() - t_teach:.1f}s)"
        )
    data_dev = device if args.data_on_device else torch.device("cpu")
    xtr_t = torch.from_numpy(xtr).to(data_dev)
    ytr_t = torch.from_numpy(ytr).to(data_dev)
    if teacher is not None:
        teacher = teacher.to(data_dev)
    soft = teacher is not None or args.mixup > 0 or args.cutmix > 0
    crit = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    run_meta = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k != "command_argv"
    }
    # What was run, for the progress record a later session (without var/) reads.
    (out / "run.json").write_text(
        json.dumps(
            {
                "argv": getattr(args, "command_argv", sys.argv[1:]),
                "args": run_meta,
                "torch": torch.__version__,
            }
        )
        + "\n"
    )

    def progress() -> float:
        p = gstep / total
        if args.time_budget > 0:
            p = max(p, (elapsed + time.perf_counter() - t_run) / args.time_budget)
        return p

    t_run = time.perf_counter()
    for epoch in range(start_epoch, args.epochs):
        if progress() >= 1 or (args.stop_after and epoch >= args.stop_after):
            break
        t_ep, cpu_ep = time.perf_counter(), time.process_time()
        # Per-epoch seeds make a resumed run identical to an uninterrupted one.
        torch.manual_seed(args.seed * 100_003 + epoch)
        gen = torch.Generator(device=data_dev).manual_seed(args.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(xtr_t), generator=gen, device=data_dev)
        net.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size : (step + 1) * args.batch_size]
            if len(idx) < 2:  # BatchNorm cannot train on a single sample
                continue
            prog = progress()
            if prog >= 1:
                log(f"  schedule complete at epoch {epoch + 1} step {step}: stopping")
                break
            for g in opt.param_groups:
                g["lr"] = args.lr * lr_factor(prog, warmup)
            if tuner is not None:
                nthreads = tuner.threads_for(gstep)
                if nthreads != torch.get_num_threads():
                    torch.set_num_threads(nthreads)
            t_step = time.perf_counter()
            x = xtr_t[idx].unsqueeze(1).float().div_(255)
            x = augment(
                x, gen, args.input_size, args.rotate, args.zoom, args.shift, jitter=args.jitter
            )
            x = random_erase((x - mean) / std, gen, args.erase_p)
            y = ytr_t[idx]
            target = None
            if soft:
                target = soft_targets(
                    y,
                    len(FER_CLASSES),
                    args.label_smoothing,
                    teacher[idx] if teacher is not None else None,
                    args.distill_weight,
                    args.distill_temp,
                )
                x, target = mix_batch(x, target, gen, args.mixup, args.cutmix, args.mix_prob)
                target = target.to(device, non_blocking=True)
            x = x.to(device, non_blocking=True).contiguous(memory_format=layout)
            y = y.to(device, non_blocking=True)
            with precision():
                logits = net(x)
                loss = (
                    soft_cross_entropy(logits, target)
                    if target is not None
                    else crit(logits.float(), y)
                )
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if ema is not None:
                ema.update_parameters(net)
            if tuner is not None:
                msg = tuner.record(gstep, torch.get_num_threads(), time.perf_counter() - t_step)
                if msg:
                    log("  " + msg)
            gstep += 1
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
            if args.log_every and (step + 1) % args.log_every == 0:
                el = time.perf_counter() - t_ep
                log(
                    f"  epoch {epoch + 1} step {step + 1}/{steps_per_epoch} "
                    f"loss {loss_sum / seen:.4f} {el / (step + 1):.2f}s/step "
                    f"eta {el / (step + 1) * (steps_per_epoch - step - 1):.0f}s "
                    f"progress {progress():.3f} threads {torch.get_num_threads()}"
                )
        train_time = time.perf_counter() - t_ep

        t_ev = time.perf_counter()
        yv = torch.from_numpy(yva)
        candidates = {"raw": net} if ema is None else {"raw": net, "ema": ema.module}
        scored = {}
        val_input = _val_preprocess(mean, std, args.input_size, device, layout)
        for kind, model in candidates.items():
            model.eval()
            # Validated in the training precision: under --amp on a CPU that is bf16, as the
            # shipped models run there (precision "auto"), and half the time of fp32.
            with precision():
                plain, flipped = predict_logits(model, xva, val_input, batch_size=512)
            pred = ((plain + flipped) / 2).argmax(1).numpy()
            scored[kind] = (plain, classification_report(yva, pred, FER_CLASSES))
        # Select on flip-TTA validation accuracy; ties keep the raw weights.
        chosen = max(scored, key=lambda k: (scored[k][1]["accuracy"], k == "raw"))
        plain, rep = scored[chosen]
        val_loss = float(F.cross_entropy(plain, yv))
        acc_plain = float((plain.argmax(1) == yv).float().mean())
        eval_time = time.perf_counter() - t_ev
        rec = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / max(seen, 1),
            "train_acc": correct / max(seen, 1),
            "val_loss": val_loss,
            "val_acc_noflip": acc_plain,
            "val_acc": rep["accuracy"],
            "val_macro_f1": rep["macro_f1"],
            "weights": chosen,
            **{f"val_acc_{k}": v[1]["accuracy"] for k, v in scored.items() if ema is not None},
            "lr": opt.param_groups[0]["lr"],
            "train_time_s": round(train_time, 1),
            "eval_time_s": round(eval_time, 1),
            "cpu_s": round(time.process_time() - cpu_ep, 3),
            "progress": round(progress(), 4),
            "threads": torch.get_num_threads(),
        }
        history.append(rec)
        improved = rep["accuracy"] > best_acc
        log(
            f"epoch {epoch + 1}/{args.epochs} train_loss {rec['train_loss']:.4f} "
            f"train_acc {rec['train_acc']:.4f} val_loss {val_loss:.4f} "
            f"val_acc {rep['accuracy']:.4f} (noflip {acc_plain:.4f}) "
            f"val_macro_f1 {rep['macro_f1']:.4f} "
            + (
                f"(raw {scored['raw'][1]['accuracy']:.4f} ema {scored['ema'][1]['accuracy']:.4f}) "
                if ema is not None
                else ""
            )
            + f"lr {rec['lr']:.4g} "
            f"epoch_time {train_time:.0f}s eval {eval_time:.0f}s" + ("  *best*" * improved)
        )
        if improved:
            best_acc = rep["accuracy"]
            info = ModelInfo(
                classes=list(FER_CLASSES),
                input_size=args.input_size,
                mean=mean,
                std=std,
                metadata={
                    "task": "fer",
                    "train_data": "FER2013 Training (train.zip, 28,709 images)",
                    "selection_data": "FER2013 PublicTest (val.zip) - validation, not test",
                    "epoch": epoch + 1,
                    "weights": "exponential moving average" if chosen == "ema" else "raw",
                    "val_accuracy_flip_tta": rep["accuracy"],
                    "val_accuracy_noflip": acc_plain,
                    "val_macro_f1_flip_tta": rep["macro_f1"],
                    "val_report_flip_tta": rep,
                    "params": n_params,
                    "train_args": run_meta,
                    "torch": torch.__version__,
                },
            )
            best_net = candidates[chosen]
            if isinstance(best_net, mini_xception.FromFer48):
                # The shipped mini-Xception format (ml.models.mini_xception.load_checkpoint).
                source = {"fine_tuned_from": str(args.init_from), **info.metadata}
                best = mini_xception.make_checkpoint(best_net.net, source, {"val": rep})
            else:
                assert isinstance(best_net, EmotionCNN)
                best = make_checkpoint(best_net, info)
            atomic_save(best, best_path)
        state = training_state(
            net,
            ema,
            opt,
            scaler,
            step=gstep,
            elapsed_s=elapsed + time.perf_counter() - t_run,
            epoch=epoch + 1,
            epochs=args.epochs,
            best_acc=best_acc,
            history=history,
            arch=arch_dict(cfg),
        )
        atomic_save(state, last_path)
        with open(out / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(rec) + "\n")
    summary = {"best_val_acc": best_acc, "epochs": args.epochs, "out": str(out)}
    log(f"done: {summary}")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m ml.train``."""
    args = parse_args(argv)
    if args.task == "fer":
        train_fer(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
