"""BertScorer: loading, embeddings, batching, caches, int8 accuracy, semantics, the CUDA path.

Most tests use a tiny randomly initialised BERT with the packaged tokenizer; the real all-MiniLM-L6-v2
weights are loaded once per module for the accuracy and semantic checks.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # must hold before transformers is imported: no hub, ever

import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from models.text.bench import SAMPLE_TITLES, measure_peak
from models.text.bert import BertScorer, ItemEmbeddingCache, ModelLoadError, packaged_model_path
from models.text.loading import checkpoint_model_type, host_tensor

THREADS = 2  # the test machine is shared: never take every core
AUDIO = [
    "Wireless Bluetooth earbuds with noise cancelling",
    "Over-ear headphones with deep bass",
    "True wireless in-ear headphones, charging case",
]
KITCHEN = ["Stainless steel chef knife 8 inch", "Non-stick frying pan 28 cm", "Digital kitchen scale 5 kg"]


@pytest.fixture(scope="module")
def tiny() -> BertScorer:
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_path()), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    return BertScorer(BertModel(config), tokenizer, device="cpu", max_length=64)


@pytest.fixture(scope="module")
def minilm() -> BertScorer:
    return BertScorer.load(device="cpu", threads=THREADS)


class CountingEncoder:
    """Wraps a scorer, counting encode_batch calls and the texts they carried."""

    def __init__(self, scorer: BertScorer) -> None:
        self.scorer = scorer
        self.calls: list[list[str]] = []
        self.dim = scorer.dim

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.scorer.encode_batch(texts)


def test_packaged_model_is_a_local_bert_checkpoint() -> None:
    assert checkpoint_model_type(packaged_model_path()) == "bert"


def test_load_packaged_model(minilm: BertScorer) -> None:
    assert (minilm.dim, minilm.device.type, minilm.precision) == (384, "cpu", "fp32")
    assert minilm.model_name == "sentence-transformers/all-MiniLM-L6-v2"


def test_missing_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found") as info:
        BertScorer.load(tmp_path / "nope", device="cpu", threads=THREADS)
    assert "\n" not in str(info.value)


def test_non_bert_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelLoadError, match="'gpt2', not a BERT-family encoder"):
        BertScorer.load(tmp_path, device="cpu", threads=THREADS)


def test_checkpoint_without_weights_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match="cannot load checkpoint") as info:
        BertScorer.load(tmp_path, device="cpu", threads=THREADS)
    assert "\n" not in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_a_gpu_is_refused(tiny: BertScorer) -> None:
    with pytest.raises(ValueError, match="no CUDA GPU"):
        BertScorer(tiny.model, tiny.tokenizer, device="cuda")


def test_embeddings_are_unit_norm_float32(tiny: BertScorer) -> None:
    rows = tiny.encode_batch(["red dress", "usb-c charger 65 w", ""])
    assert rows.shape == (3, 32) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert tiny.encode_batch([]).shape == (0, 32)


def test_batching_preserves_order_and_values(tiny: BertScorer) -> None:
    texts = [*SAMPLE_TITLES[:9], "tv", "a much longer title " * 5]
    one_by_one = np.vstack([tiny.encode_batch([text]) for text in texts])
    np.testing.assert_allclose(tiny.encode_batch(texts, max_batch=3), one_by_one, atol=1e-5)


def test_micro_batches_pad_to_their_longest_text(tiny: BertScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    forward = tiny.encode_padded

    def recording(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        seen.append((input_ids.shape[1], int(attention_mask.sum(axis=1).max())))
        return forward(input_ids, attention_mask)

    monkeypatch.setattr(tiny, "encode_padded", recording)
    tiny.encode_batch(["tv", "usb hub", "a much longer title " * 5, "red dress"], max_batch=2)
    assert len(seen) == 2
    assert all(width == longest for width, longest in seen)
    assert seen[0][0] < seen[1][0] < tiny.max_length


def test_long_texts_are_truncated(tiny: BertScorer) -> None:
    assert len(tiny.tokenize(["word " * 500])[0]) == tiny.max_length


def test_query_cache_counts_hits_and_misses(tiny: BertScorer) -> None:
    scorer = BertScorer(tiny.model, tiny.tokenizer, device="cpu", query_cache_size=2)
    first = scorer.encode_queries(["earbuds", "knife", "earbuds"])
    assert (scorer.query_cache.hits, scorer.query_cache.misses) == (1, 2)
    np.testing.assert_allclose(first, scorer.encode_batch(["earbuds", "knife", "earbuds"]), atol=1e-6)
    scorer.encode_queries(["knife", "yoga mat"])  # knife hit; yoga mat evicts earbuds (least recent)
    scorer.encode_queries(["earbuds"])
    assert (scorer.query_cache.hits, scorer.query_cache.misses, len(scorer.query_cache)) == (2, 4, 2)


def test_score_batch_is_cosine(tiny: BertScorer) -> None:
    items = tiny.encode_batch(["red dress", "chef knife"])
    raw = np.vstack([3 * items, np.zeros((1, tiny.dim), dtype=np.float32)])
    scores = tiny.score_batch(["dress", "knife"], raw)
    assert scores.shape == (2, 3)
    np.testing.assert_allclose(scores[:, :2], tiny.encode_batch(["dress", "knife"]) @ items.T, atol=1e-5)
    assert np.all(scores[:, 2] == 0)
    with pytest.raises(ValueError, match="item_matrix"):
        tiny.score_batch(["dress"], np.zeros((2, 7), dtype=np.float32))


def test_item_cache_reencodes_only_changed_titles(tiny: BertScorer) -> None:
    encoder = CountingEncoder(tiny)
    cache = ItemEmbeddingCache(encoder, initial_capacity=2)
    assert cache.update({"A": "red dress", "B": "chef knife"}) == ["A", "B"]
    assert cache.update({"A": "red dress", "B": "chef knife"}) == []
    assert cache.update([("B", "chef knife 8 inch"), ("C", "yoga mat"), ("A", "red dress")]) == ["B", "C"]
    assert encoder.calls == [["red dress", "chef knife"], ["chef knife 8 inch", "yoga mat"]]
    assert cache.encoded_titles == 4
    expected = tiny.encode_batch([cache.title(sku) or "" for sku in cache.skus()])
    np.testing.assert_allclose(cache.matrix(), expected, atol=1e-5)


def test_item_cache_reads_stored_vectors_of_its_own_encoder_only(tiny: BertScorer) -> None:
    stored: dict[bytes, bytes] = {}
    first = ItemEmbeddingCache(CountingEncoder(tiny), stored=stored)
    first.update({"A": "red dress", "B": "chef knife"})
    encoder = CountingEncoder(tiny)
    again = ItemEmbeddingCache(encoder, stored=stored)  # a restarted worker on the same store
    again.update({"A": "red dress", "B": "chef knife", "C": "yoga mat"})
    assert encoder.calls[1:] == [["yoga mat"]] and again.encoded_titles == 1  # after its fingerprint
    np.testing.assert_array_equal(again.matrix()[:2], first.matrix())
    ones = SimpleNamespace(dim=tiny.dim, encode_batch=lambda t: np.ones((len(t), tiny.dim)))
    other = CountingEncoder(ones)  # type: ignore[arg-type]
    ItemEmbeddingCache(other, stored=stored).update({"A": "red dress"})
    assert other.calls[1:] == [["red dress"]]  # another encoder's vectors are not its own


def test_item_cache_remove_keeps_rows_aligned(tiny: BertScorer) -> None:
    cache = ItemEmbeddingCache(tiny)
    cache.update({"A": "red dress", "B": "chef knife", "C": "yoga mat"})
    assert cache.remove("A") and not cache.remove("A")
    assert sorted(cache.skus()) == ["B", "C"] and "A" not in cache and len(cache) == 2
    for row, sku in enumerate(cache.skus()):
        np.testing.assert_array_equal(cache.matrix()[row], cache.vector(sku))
    np.testing.assert_allclose(cache.vector("C"), tiny.encode_batch(["yoga mat"])[0], atol=1e-5)


def test_measure_peak_reports_each_batch_size(tiny: BertScorer) -> None:
    report = measure_peak(
        tiny, batch_sizes=(1, 4), texts={"short": ["tv", "red dress"]}, repeats=1, min_texts=4
    )
    short = report["sets"]["short"]
    assert [row["batch_size"] for row in short["per_batch"]] == [1, 4]
    assert short["peak_texts_per_s"] == max(row["texts_per_s"] for row in short["per_batch"]) > 0
    assert (report["device"], report["precision"], report["threads"]) == ("cpu", "fp32", THREADS)


def test_semantic_ranking_with_real_model(minilm: BertScorer) -> None:
    scores = minilm.score_batch(["wireless earbuds"], minilm.encode_batch(AUDIO + KITCHEN))[0]
    assert scores[: len(AUDIO)].min() > scores[len(AUDIO) :].max()


def test_int8_matches_fp32_on_product_titles(minilm: BertScorer) -> None:
    int8 = BertScorer.load(device="cpu", int8=True, threads=THREADS)
    assert int8.precision == "int8"
    cosine = (int8.encode_batch(SAMPLE_TITLES) * minilm.encode_batch(SAMPLE_TITLES)).sum(axis=1)
    assert cosine.min() >= 0.97, f"worst title cosine {cosine.min():.4f}"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU present")
def test_cuda_path_fp16_pinned(minilm: BertScorer) -> None:
    gpu = BertScorer.load(device="cuda")
    assert gpu.device.type == "cuda" and gpu.precision == "fp16" and gpu.max_batch == 256
    assert next(gpu.model.parameters()).dtype == torch.float16
    assert host_tensor(np.zeros((2, 3), dtype=np.int64), gpu.device).is_pinned()
    texts = list(SAMPLE_TITLES) * 8  # 320 texts: more than one micro-batch
    on_gpu = gpu.encode_batch(texts)
    assert on_gpu.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(on_gpu, axis=1), 1.0, atol=1e-3)
    assert (on_gpu * minilm.encode_batch(texts)).sum(axis=1).min() >= 0.995
    scores = gpu.score_batch(["wireless earbuds"], gpu.encode_batch(AUDIO + KITCHEN))[0]
    assert scores[: len(AUDIO)].min() > scores[len(AUDIO) :].max()
