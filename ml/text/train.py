"""Fine-tune MiniLM (LoRA) into the tweet sentiment + emotion model.

    python -m ml.text.train --out ml/weights/text_sentiment.pt [--epochs 6] [--threads 2]

Three tasks share the encoder, one task per mini-batch:

- ``tweet``: 3-class sentiment on the ``train`` part of TweetEval sentiment validation,
  class-weighted (the official metric is macro-recall, which a prior-following model
  loses on the rare negative class);
- ``polarity``: negative-vs-positive on SST-2 (sampled per epoch) and on TweetEval emotion
  tweets (anger/sadness -> negative, joy/optimism -> positive), scored over the negative and
  positive logits only, so it teaches polarity without pushing ``neutral`` around;
- ``emotion``: 4-class TweetEval emotion on its own head.

The epoch is chosen on the ``select`` part (macro-recall), temperatures are fitted on
``select`` and on TweetEval emotion ``val``; ``report`` and emotion ``test`` are scored
once at the end. Everything is seeded; with a fixed ``--threads`` the run is repeatable.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ml.metrics import classification_report
from ml.text import data as D
from ml.text.baselines import vader_labels
from ml.text.calibration import fit_temperature, nll
from ml.text.model import (
    MAX_LENGTH,
    SentimentNet,
    TextSentimentModel,
    base_encoder,
    lora_config,
    make_checkpoint,
    pad_batch,
)
from ml.text.preprocess import normalize

POLARITY_FROM_EMOTION = np.array([0, 2, 2, 0])  # anger, joy, optimism, sadness -> neg/pos


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def tokenize(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    return tokenizer([normalize(t).text for t in texts], truncation=True, max_length=MAX_LENGTH)[
        "input_ids"
    ]


def batches(
    ids: list[list[int]], labels: np.ndarray, batch_size: int, rng: random.Random
) -> list[tuple[list[list[int]], np.ndarray]]:
    """Length-bucketed shuffled batches: sort within chunks of 50 batches, then shuffle."""
    order = list(range(len(ids)))
    rng.shuffle(order)
    chunk = batch_size * 50
    out = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c : c + chunk], key=lambda i: len(ids[i]))
        for b in range(0, len(part), batch_size):
            sel = part[b : b + batch_size]
            out.append(([ids[i] for i in sel], labels[sel]))
    return out


@torch.no_grad()
def predict_logits(
    net: SentimentNet, tokenizer: Any, ids: list[list[int]], batch_size: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Logits exactly as the shipped model computes them, then back to training mode."""
    try:
        return TextSentimentModel(net, tokenizer, "cpu", {}, {}).logits_from_ids(ids, batch_size)
    finally:
        net.train()


def class_weights(labels: np.ndarray, k: int, power: float = 1.0) -> torch.Tensor:
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    w = (counts.sum() / (k * np.maximum(counts, 1))) ** power
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rng = random.Random(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer, encoder = base_encoder()
    pad_id = tokenizer.pad_token_id
    from peft import get_peft_model

    net = SentimentNet(get_peft_model(encoder, lora_config(args.rank, args.alpha, 0.1)))
    net.train()

    tweets = D.tweet_sentiment_splits()
    emo = {s: D.tweeteval("emotion", s) for s in ("train", "val", "test")}
    sst = D.sst2("train")
    log(f"data: tweets {[len(v) for v in tweets.values()]}, emotion train {len(emo['train'])}")
    tok = {name: tokenize(tokenizer, ds.texts) for name, ds in tweets.items()}
    emo_tok = {s: tokenize(tokenizer, ds.texts) for s, ds in emo.items()}
    sst_tok = tokenize(tokenizer, sst.texts)
    log("tokenised")

    w_tweet = class_weights(tweets["train"].labels, 3)
    w_emo = class_weights(emo["train"].labels, 4, power=0.5)
    lora_params = [p for n, p in net.named_parameters() if p.requires_grad and "lora_" in n]
    head_params = list(net.sentiment.parameters()) + list(net.emotion.parameters())
    opt = torch.optim.AdamW(
        [{"params": lora_params, "lr": args.lr}, {"params": head_params, "lr": args.head_lr}],
        weight_decay=0.01,
    )
    base_lrs = [g["lr"] for g in opt.param_groups]

    def epoch_batches() -> list[tuple[str, list[list[int]], np.ndarray]]:
        sst_idx = rng.sample(range(len(sst)), min(args.sst2_per_epoch, len(sst)))
        pol_ids = [sst_tok[i] for i in sst_idx] + emo_tok["train"]
        pol_y = np.concatenate(
            [np.where(sst.labels[sst_idx] == 1, 2, 0), POLARITY_FROM_EMOTION[emo["train"].labels]]
        )
        out = []
        for _ in range(args.tweet_repeats):
            out += [("tweet", *b) for b in batches(tok["train"], tweets["train"].labels, 32, rng)]
        out += [("polarity", *b) for b in batches(pol_ids, pol_y, 32, rng)]
        out += [("emotion", *b) for b in batches(emo_tok["train"], emo["train"].labels, 32, rng)]
        rng.shuffle(out)
        return out

    if args.finish_from:
        saved = torch.load(args.finish_from, map_location="cpu", weights_only=True)
        net.load_state_dict(saved["state"])
        return finish(
            args,
            net,
            tokenizer,
            tweets,
            tok,
            emo,
            emo_tok,
            saved["history"],
            saved["epoch"],
        )
    steps_per_epoch = len(epoch_batches())
    total = steps_per_epoch * args.epochs
    warmup = max(1, int(0.06 * total))
    best: dict[str, Any] = {"score": -1.0}
    history = []
    step = 0
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        losses = {"tweet": [], "polarity": [], "emotion": []}
        for task, seqs, y in epoch_batches():
            f = step / warmup if step < warmup else max(0.0, (total - step) / (total - warmup))
            for g, lr in zip(opt.param_groups, base_lrs, strict=True):
                g["lr"] = lr * f
            x, m = pad_batch(seqs, pad_id)
            target = torch.from_numpy(y)
            s, e = net(x, m)
            if task == "tweet":
                loss = F.cross_entropy(s, target, weight=w_tweet, label_smoothing=0.05)
            elif task == "polarity":
                loss = args.polarity_weight * F.cross_entropy(s[:, [0, 2]], (target == 2).long())
            else:
                loss = F.cross_entropy(e, target, weight=w_emo, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            losses[task].append(float(loss.detach()))
            step += 1
        s_sel, _ = predict_logits(net, tokenizer, tok["select"])
        _, e_val = predict_logits(net, tokenizer, emo_tok["val"])
        rep_sel = classification_report(
            tweets["select"].labels, s_sel.argmax(1), D.SENTIMENT_CLASSES
        )
        rep_emo = classification_report(emo["val"].labels, e_val.argmax(1), D.EMOTION_CLASSES)
        rec = {
            "epoch": epoch + 1,
            "loss": {k: round(float(np.mean(v)), 4) for k, v in losses.items() if v},
            "select_macro_recall": round(rep_sel["macro_recall"], 4),
            "select_accuracy": round(rep_sel["accuracy"], 4),
            "emotion_val_macro_f1": round(rep_emo["macro_f1"], 4),
            "epoch_s": round(time.perf_counter() - t0, 1),
        }
        history.append(rec)
        score = rep_sel["macro_recall"] + 0.25 * rep_emo["macro_f1"]
        improved = score > best["score"]
        log(json.dumps(rec) + ("  *best*" if improved else ""))
        if improved:
            best = {"score": score, "epoch": epoch + 1, "state": copy.deepcopy(net.state_dict())}
            # A killed run can still be finished from the best epoch: --finish-from.
            torch.save(
                {"epoch": epoch + 1, "state": best["state"], "history": history},
                Path(args.out).with_suffix(".best-state.pt"),
            )
    net.load_state_dict(best["state"])
    return finish(args, net, tokenizer, tweets, tok, emo, emo_tok, history, best["epoch"])


def finish(args, net, tokenizer, tweets, tok, emo, emo_tok, history, epoch) -> dict:
    """Fit temperatures on the selection data, score the report data, write the file."""
    s_sel, _ = predict_logits(net, tokenizer, tok["select"])
    s_rep, _ = predict_logits(net, tokenizer, tok["report"])
    _, e_val = predict_logits(net, tokenizer, emo_tok["val"])
    _, e_test = predict_logits(net, tokenizer, emo_tok["test"])
    temps = {
        "sentiment": fit_temperature(s_sel, tweets["select"].labels),
        "emotion": fit_temperature(e_val, emo["val"].labels),
    }
    report = classification_report(tweets["report"].labels, s_rep.argmax(1), D.SENTIMENT_CLASSES)
    report["nll"] = nll(s_rep, tweets["report"].labels, temps["sentiment"])
    vader = classification_report(
        tweets["report"].labels, vader_labels(tweets["report"].texts), D.SENTIMENT_CLASSES
    )
    emo_test = classification_report(emo["test"].labels, e_test.argmax(1), D.EMOTION_CLASSES)
    metadata = {
        "epoch": epoch,
        "history": history,
        "train_args": {k: v for k, v in vars(args).items() if k != "out"},
        "split": {"seed": D.SPLIT_SEED, "fractions": D.SPLIT_FRACTIONS},
        "tweet_report_validation": report,
        "vader_report_validation": vader,
        "emotion_test": emo_test,
        "torch": str(torch.__version__),
    }
    ckpt = make_checkpoint(net, args.rank, args.alpha, temps, metadata)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(out)
    summary = {
        "out": str(out),
        "epoch": epoch,
        "temperatures": temps,
        "report_macro_recall": report["macro_recall"],
        "vader_report_macro_recall": vader["macro_recall"],
        "emotion_test_macro_f1": emo_test["macro_f1"],
    }
    log(json.dumps(summary))
    # The shipped file must reproduce what was measured in memory.
    loaded = TextSentimentModel.load(out)
    s2, _ = loaded.logits([normalize(t).text for t in tweets["report"].texts])
    agree = float((s2.argmax(1) == s_rep.argmax(1)).mean())
    log(f"reloaded fp16 file agrees with the trained net on {agree:.4f} of report tweets")
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml.text.train", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="ml/weights/text_sentiment.pt")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=5e-4, help="LoRA learning rate")
    p.add_argument("--head-lr", type=float, default=2e-3)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--sst2-per-epoch", type=int, default=4000)
    p.add_argument("--tweet-repeats", type=int, default=2, help="passes over tweet train/epoch")
    p.add_argument("--polarity-weight", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--finish-from",
        type=Path,
        default=None,
        help="skip training: calibrate, score and write OUT from a .best-state.pt",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    train(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
