"""Batched BERT text scoring: sentence embeddings (mean pooling, L2-normalised) and cosine scores.

The default model is the packaged all-MiniLM-L6-v2 (384-d); any local BERT-family checkpoint directory can
be passed instead. GPU when present (fp16 weights, pinned non-blocking copies), CPU otherwise (all cores,
optional dynamic int8). Texts are tokenised once and padded per length-sorted micro-batch
(:mod:`models.text.batching`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.text.batching import encode_in_order
from models.text.cache import ItemEmbeddingCache, QueryCache
from models.text.loading import (
    PACKAGED_MODEL_NAME,
    ModelLoadError,
    configure_cpu_threads,
    load_checkpoint,
    packaged_model_path,
    quantize_int8,
    resolve_device,
    to_device,
)

__all__ = ["BertScorer", "ItemEmbeddingCache", "ModelLoadError", "QueryCache", "packaged_model_path"]

# Largest micro-batch per forward pass. A GPU keeps gaining up to a few hundred rows; a CPU saturates its
# cores at a few dozen, beyond which bigger batches only add padding and memory traffic.
DEFAULT_MAX_BATCH = {"cuda": 256, "cpu": 64}


class BertScorer:
    """Encode texts with a BERT-family model and score them against item embeddings.

    Build with :meth:`load` (a checkpoint on disk) or directly from an in-memory ``(model, tokenizer)``.
    Not thread-safe: one scorer per worker thread.

    Parameters
    ----------
    model, tokenizer
        A transformers encoder returning ``last_hidden_state`` and its (fast) tokenizer.
    device
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``…
    int8
        Dynamic int8 quantisation of the Linear layers (CPU only).
    max_length
        Truncation length in tokens (capped at the model's position embeddings).
    query_cache_size
        Entries in the LRU of repeated queries used by :meth:`encode_queries` (0 disables it).
    max_batch
        Largest micro-batch per forward pass; ``None`` → 256 on GPU, 32 on CPU.
    model_name
        Name reported in outputs (e.g. the ``model`` field of recommendations).
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        device: str = "auto",
        int8: bool = False,
        max_length: int = 128,
        query_cache_size: int = 10000,
        max_batch: int | None = None,
        model_name: str = "in-memory",
    ) -> None:
        self._device = resolve_device(device)
        on_gpu = self._device.type == "cuda"
        if int8 and on_gpu:
            raise ValueError("int8 dynamic quantisation runs on CPU only; use device='cpu' or int8=False")
        if max_length < 2:
            raise ValueError(f"max_length must leave room for the special tokens, got {max_length}")
        config: Any = model.config  # transformers PretrainedConfig; nn.Module types it as Tensor | Module
        self._dim = int(config.hidden_size)
        self.max_length = min(max_length, int(getattr(config, "max_position_embeddings", max_length)))
        self.max_batch = max_batch or DEFAULT_MAX_BATCH["cuda" if on_gpu else "cpu"]
        self.int8 = int8
        self.model_name = model_name
        self.tokenizer = tokenizer
        # BertModel(config) starts in training mode: without eval() dropout would make embeddings random.
        model = model.eval()
        if int8:
            model = quantize_int8(model)
        elif on_gpu:
            model = model.half()  # fp16: tensor cores, half the memory traffic; pooling stays in fp32
        self.model = model.to(self._device)
        self.query_cache = QueryCache(query_cache_size)
        pad_id = tokenizer.pad_token_id
        self._pad_token_id = int(pad_id) if pad_id is not None else 0

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        device: str = "auto",
        int8: bool = False,
        threads: int | None = None,
        max_length: int = 128,
        query_cache_size: int = 10000,
        max_batch: int | None = None,
    ) -> BertScorer:
        """Load a local checkpoint directory (default: the packaged all-MiniLM-L6-v2).

        ``threads`` sets torch's CPU thread count (``None`` → all cores) when the model runs on CPU;
        ``int8=True`` with ``device="auto"`` runs on CPU.
        Raises :class:`ModelLoadError` for a missing path or a non-BERT-family checkpoint.
        """
        checkpoint = Path(path) if path is not None else packaged_model_path()
        # int8 is a CPU feature, so "auto" means CPU then; a bad device fails before seconds of loading.
        resolved = torch.device("cpu") if int8 and device == "auto" else resolve_device(device)
        if int8 and resolved.type != "cpu":
            raise ValueError("int8 dynamic quantisation runs on CPU only; use device='cpu' or int8=False")
        if resolved.type == "cpu" or threads is not None:
            configure_cpu_threads(threads)
        model, tokenizer = load_checkpoint(checkpoint)
        name = PACKAGED_MODEL_NAME if path is None else checkpoint.name
        return cls(
            model,
            tokenizer,
            device=str(resolved),
            int8=int8,
            max_length=max_length,
            query_cache_size=query_cache_size,
            max_batch=max_batch,
            model_name=name,
        )

    @property
    def dim(self) -> int:
        """Embedding width (the model's hidden size)."""
        return self._dim

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return self._device

    @property
    def precision(self) -> str:
        """``"int8"``, ``"fp16"`` (GPU) or ``"fp32"``."""
        return "int8" if self.int8 else ("fp16" if self._device.type == "cuda" else "fp32")

    @property
    def pad_token_id(self) -> int:
        """Padding token id (masked out)."""
        return self._pad_token_id

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, with special tokens, truncated to ``max_length``, unpadded."""
        encoded = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [list(ids) for ids in encoded["input_ids"]]

    def encode_padded(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """One forward pass over a padded micro-batch → L2-normalised mean-pooled float32 ``[b, dim]``."""
        with torch.inference_mode():
            ids = to_device(input_ids, self._device)
            mask = to_device(attention_mask, self._device)
            # token_type_ids left out: single-segment inputs, and the model's default is all zeros.
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * weights).sum(dim=1)
            pooled = summed / weights.sum(dim=1).clamp(min=1e-9)
            normalised = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
            return normalised.cpu().numpy()

    def encode_batch(self, texts: Sequence[str], max_batch: int | None = None) -> np.ndarray:
        """Embeddings of ``texts``: float32 ``[n, dim]``, unit-norm rows, in input order (no cache)."""
        return encode_in_order(self, texts, max_batch or self.max_batch)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`encode_batch`, served from the LRU query cache; misses are encoded in one batch."""
        return self.query_cache.encode(texts, self.encode_batch, self._dim)

    def score_batch(self, queries: Sequence[str], item_matrix: np.ndarray) -> np.ndarray:
        """Cosine similarity ``[n_queries, n_items]`` of queries (cached) with item embedding rows.

        Item rows need not be normalised; all-zero rows score 0.
        """
        items = np.asarray(item_matrix, dtype=np.float32)
        if items.ndim != 2 or items.shape[1] != self._dim:
            raise ValueError(f"item_matrix must be [n_items, {self._dim}], got {items.shape}")
        norms = np.linalg.norm(items, axis=1)
        norms[norms == 0] = 1.0
        return np.asarray(self.encode_queries(queries) @ (items / norms[:, None]).T, dtype=np.float32)

    def __repr__(self) -> str:
        return f"BertScorer({self.model_name!r}, device={self._device}, {self.precision}, dim={self._dim})"
