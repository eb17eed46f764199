"""Dynamic padding, length-sorted micro-batches and order preservation (no model needed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from models.text.batching import encode_in_order, length_sorted_batches, pad_to_longest


class RecordingEncoder:
    """Encodes a text as [its first token, its length]; records each padded micro-batch it sees."""

    dim = 2
    pad_token_id = 0

    def __init__(self) -> None:
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        # token ids 1..n: "text 7 with n words" → first token is the position's marker, length = words
        return [[int(text.split()[0]), *range(1, len(text.split()))] for text in texts]

    def encode_padded(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.batches.append((input_ids, attention_mask))
        return np.stack([input_ids[:, 0], attention_mask.sum(axis=1)], axis=1).astype(np.float32)


def texts_of_lengths(lengths: Sequence[int]) -> list[str]:
    return [" ".join([str(i + 1)] + ["w"] * (n - 1)) for i, n in enumerate(lengths)]


def test_one_batch_keeps_order_when_everything_fits() -> None:
    assert length_sorted_batches([3, 1, 2], max_batch=8) == [[0, 1, 2]]


def test_batches_are_length_sorted_and_bounded() -> None:
    batches = length_sorted_batches([9, 1, 5, 2, 7], max_batch=2)
    assert batches == [[1, 3], [2, 4], [0]]
    assert all(len(batch) <= 2 for batch in batches)


def test_invalid_max_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        length_sorted_batches([1], max_batch=0)


def test_pad_to_longest_pads_only_to_the_batch_longest() -> None:
    ids, mask = pad_to_longest([[5, 6], [7], [8, 9, 10]], pad_token_id=0)
    assert ids.shape == mask.shape == (3, 3)
    assert ids.dtype == mask.dtype == np.int64
    assert mask.sum(axis=1).tolist() == [2, 1, 3]


def test_encode_in_order_restores_input_order() -> None:
    lengths = [12, 3, 7, 1, 9, 4, 4, 15, 2]
    encoder = RecordingEncoder()
    rows = encode_in_order(encoder, texts_of_lengths(lengths), max_batch=3)
    assert rows[:, 0].tolist() == list(range(1, len(lengths) + 1))
    assert rows[:, 1].tolist() == lengths


def test_each_micro_batch_is_padded_to_its_own_longest() -> None:
    encoder = RecordingEncoder()
    encode_in_order(encoder, texts_of_lengths([12, 3, 7, 1, 9, 4, 4, 15, 2]), max_batch=3)
    assert len(encoder.batches) == 3
    for input_ids, mask in encoder.batches:
        assert input_ids.shape[0] <= 3
        assert input_ids.shape[1] == mask.sum(axis=1).max()
    # sorting puts short texts together: the first micro-batch is far narrower than the longest text
    assert [ids.shape[1] for ids, _ in encoder.batches] == [3, 7, 15]


def test_empty_input_gives_an_empty_matrix() -> None:
    assert encode_in_order(RecordingEncoder(), [], max_batch=4).shape == (0, 2)
