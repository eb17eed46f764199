"""The scorer's own peak batched throughput, the yardstick for the streaming stage's BERT scoring.

:func:`measure_peak` times ``encode_batch`` (tokenise + forward + pool, no query cache) on one batch of
``b`` texts per call, for each batch size, on short texts (titles / queries) and long texts (~100-token
descriptions). The result is JSON-ready, for ``flashsale bench bert`` and the pipeline comparison.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from itertools import cycle, islice
from typing import Any

import torch

from models.text.bert import BertScorer
from models.text.samples import SAMPLE_DESCRIPTIONS, SAMPLE_TITLES

__all__ = ["DEFAULT_BATCH_SIZES", "DEFAULT_TEXT_SETS", "SAMPLE_DESCRIPTIONS", "SAMPLE_TITLES", "measure_peak"]

DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
DEFAULT_TEXT_SETS: Mapping[str, Sequence[str]] = {"short": SAMPLE_TITLES, "long": SAMPLE_DESCRIPTIONS}


def batch_of(texts: Sequence[str], size: int) -> list[str]:
    """``size`` texts, cycling through ``texts``.

    Examples
    --------
    >>> batch_of(["a", "b"], 5)
    ['a', 'b', 'a', 'b', 'a']
    """
    if not texts:
        raise ValueError("need at least one text")
    return list(islice(cycle(texts), size))


def time_batches(scorer: BertScorer, batch: Sequence[str], calls: int) -> float:
    """Seconds for ``calls`` consecutive ``encode_batch`` calls, each one forward pass over the batch."""
    start = time.perf_counter()
    for _ in range(calls):
        scorer.encode_batch(batch, max_batch=len(batch))
    if scorer.device.type == "cuda":  # encode_batch already copies to host; this only guards future changes
        torch.cuda.synchronize(scorer.device)
    return time.perf_counter() - start


def measure_text_set(
    scorer: BertScorer, texts: Sequence[str], batch_sizes: Sequence[int], repeats: int, min_texts: int
) -> dict[str, Any]:
    """Throughput per batch size for one set of texts, plus its peak."""
    rows = []
    for size in batch_sizes:
        batch = batch_of(texts, size)
        # Small batches run several calls per repeat so each timing covers enough work to be measurable.
        calls = max(1, -(-min_texts // size))
        time_batches(scorer, batch, 1)  # warm-up: allocator, thread pool, cuBLAS handles
        seconds = statistics.median(time_batches(scorer, batch, calls) for _ in range(repeats))
        rows.append(
            {"batch_size": size, "texts_per_s": calls * size / seconds, "seconds_per_batch": seconds / calls}
        )
    peak = max(rows, key=lambda row: row["texts_per_s"])
    token_counts = [len(ids) for ids in scorer.tokenize(list(texts))]
    return {
        "mean_tokens": sum(token_counts) / len(token_counts),
        "per_batch": rows,
        "peak_batch_size": peak["batch_size"],
        "peak_texts_per_s": peak["texts_per_s"],
    }


def measure_peak(
    scorer: BertScorer,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    texts: Mapping[str, Sequence[str]] | None = None,
    repeats: int = 3,
    min_texts: int = 32,
) -> dict[str, Any]:
    """Peak batched throughput of ``scorer`` (texts/s, median of ``repeats``, after a warm-up).

    Parameters
    ----------
    scorer
        The loaded scorer (its device, precision and thread count are what gets measured).
    batch_sizes
        Texts per forward pass to try.
    texts
        Named text sets; default ``{"short": SAMPLE_TITLES, "long": SAMPLE_DESCRIPTIONS}``.
    repeats
        Timed repetitions per batch size; the median is reported.
    min_texts
        Each repetition encodes at least this many texts (several calls for small batch sizes).

    Returns
    -------
    dict
        ``model``, ``device``, ``precision``, ``threads`` and ``sets``: per set name its ``mean_tokens``,
        ``per_batch`` (``batch_size``, ``texts_per_s``, ``seconds_per_batch``), ``peak_batch_size`` and
        ``peak_texts_per_s``.
    """
    if repeats < 1 or not batch_sizes or min(batch_sizes) < 1:
        raise ValueError("need repeats >= 1 and at least one batch size >= 1")
    text_sets = DEFAULT_TEXT_SETS if texts is None else texts
    return {
        "model": scorer.model_name,
        "device": str(scorer.device),
        "precision": scorer.precision,
        "threads": torch.get_num_threads(),
        "sets": {
            name: measure_text_set(scorer, set_texts, batch_sizes, repeats, min_texts)
            for name, set_texts in text_sets.items()
        },
    }
