"""Dynamic padding and length-sorted micro-batching for batched text encoders.

Texts are tokenised once, unpadded; each micro-batch is then padded only to its own longest text, so a
batch of short search queries never pays for ``max_length`` positions. When there are more texts than
``max_batch``, texts are sorted by token length first so that each micro-batch holds texts of similar
length (little padding), and the encoded rows are put back into the caller's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class PaddedEncoder(Protocol):
    """What :func:`encode_in_order` needs from a text encoder (``BertScorer`` is one)."""

    @property
    def dim(self) -> int:
        """Width of one embedding row."""
        ...

    @property
    def pad_token_id(self) -> int:
        """Token id used for padding positions (masked out, so its value does not change results)."""
        ...

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, special tokens included, truncated, not padded."""
        ...

    def encode_padded(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Encode one padded micro-batch ``[b, L]`` into float32 rows ``[b, dim]``."""
        ...


def length_sorted_batches(lengths: Sequence[int], max_batch: int) -> list[list[int]]:
    """Split positions ``0..n-1`` into micro-batches of at most ``max_batch``.

    Everything fits in one batch → one batch in the original order (sorting could not reduce padding).
    Otherwise positions are sorted by length (stable) and cut into consecutive chunks.

    Examples
    --------
    >>> length_sorted_batches([5, 2, 9, 3], max_batch=4)
    [[0, 1, 2, 3]]
    >>> length_sorted_batches([5, 2, 9, 3], max_batch=2)
    [[1, 3], [0, 2]]
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    n = len(lengths)
    if n == 0:
        return []
    if n <= max_batch:
        return [list(range(n))]
    order = sorted(range(n), key=lambda i: lengths[i])
    return [order[start : start + max_batch] for start in range(0, n, max_batch)]


def pad_to_longest(token_ids: Sequence[Sequence[int]], pad_token_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token id lists to the longest one in *this* batch.

    Returns ``(input_ids, attention_mask)``, both int64 ``[b, longest]``.

    Examples
    --------
    >>> ids, mask = pad_to_longest([[101, 7, 102], [101, 102]], pad_token_id=0)
    >>> ids.tolist(), mask.tolist()
    ([[101, 7, 102], [101, 102, 0]], [[1, 1, 1], [1, 1, 0]])
    """
    longest = max((len(ids) for ids in token_ids), default=0)
    input_ids = np.full((len(token_ids), longest), pad_token_id, dtype=np.int64)
    attention_mask = np.zeros((len(token_ids), longest), dtype=np.int64)
    for row, ids in enumerate(token_ids):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def encode_token_ids_in_order(
    encoder: PaddedEncoder, token_ids: Sequence[Sequence[int]], max_batch: int
) -> np.ndarray:
    """Encode already-tokenised texts in padded micro-batches; rows come back in input order."""
    out = np.empty((len(token_ids), encoder.dim), dtype=np.float32)
    for positions in length_sorted_batches([len(ids) for ids in token_ids], max_batch):
        input_ids, attention_mask = pad_to_longest([token_ids[i] for i in positions], encoder.pad_token_id)
        out[positions] = encoder.encode_padded(input_ids, attention_mask)
    return out


def encode_in_order(encoder: PaddedEncoder, texts: Sequence[str], max_batch: int) -> np.ndarray:
    """Tokenise ``texts`` once, encode them in micro-batches, return float32 ``[n, dim]`` in input order."""
    if not texts:
        return np.empty((0, encoder.dim), dtype=np.float32)
    return encode_token_ids_in_order(encoder, encoder.tokenize(texts), max_batch)
