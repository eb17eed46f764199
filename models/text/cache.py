"""Embedding caches: an LRU of repeated search queries and a per-SKU item-title cache.

Both only ever call the encoder with one batch of the texts they miss, so a burst of events costs one
batched forward pass rather than one per event. Neither is thread-safe (one worker, one event loop).
The title cache can keep its vectors in a byte store that outlives the process (a worker's RocksDB),
so a restarted worker does not encode its whole catalog again.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np

BatchEncoder = Callable[[Sequence[str]], np.ndarray]
FINGERPRINT_TEXT = "flashsale title vectors: which encoder made them"


class ByteStore(Protocol):
    """Bytes by bytes key (``rocksdict.Rdict`` in raw mode is one; so is a dict)."""

    def get(self, key: bytes) -> bytes | None: ...

    def __setitem__(self, key: bytes, value: bytes) -> None: ...


class TextEncoder(Protocol):
    """Anything with ``encode_batch`` and ``dim`` (``BertScorer`` is one)."""

    @property
    def dim(self) -> int:
        """Width of one embedding row."""
        ...

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into float32 rows ``[n, dim]``, in order."""
        ...


class QueryCache:
    """LRU of text → embedding row with hit/miss counters.

    A text is a *hit* when it is served without being encoded (already cached, or repeated within the
    same call); every distinct unseen text is one *miss*.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError(f"query cache size must be >= 0, got {maxsize}")
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Drop all entries; counters are kept (they describe the traffic, not the contents)."""
        self._rows.clear()

    def encode(self, texts: Sequence[str], encode_batch: BatchEncoder, dim: int) -> np.ndarray:
        """Rows for ``texts`` in order, encoding only the distinct misses, in one batch."""
        out = np.empty((len(texts), dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for position, text in enumerate(texts):
            row = self._rows.get(text)
            if row is not None:
                self._rows.move_to_end(text)
                out[position] = row
                self.hits += 1
            elif text in missing:
                missing[text].append(position)
                self.hits += 1
            else:
                missing[text] = [position]
                self.misses += 1
        if missing:
            encoded = encode_batch(list(missing))
            for row, (text, positions) in zip(encoded, missing.items(), strict=True):
                out[positions] = row
                self._store(text, row)
        return out

    def _store(self, text: str, row: np.ndarray) -> None:
        if self.maxsize == 0:
            return
        self._rows[text] = row.copy()
        if len(self._rows) > self.maxsize:
            self._rows.popitem(last=False)


class ItemEmbeddingCache:
    """Title embeddings per SKU in one contiguous matrix; a SKU is re-encoded only when its title changes.

    ``matrix()`` and ``skus()`` line up row for row, ready for ``BertScorer.score_batch``.
    """

    def __init__(
        self, encoder: TextEncoder, initial_capacity: int = 1024, stored: ByteStore | None = None
    ) -> None:
        self._encoder = encoder
        self._stored = stored
        # Stored vectors are keyed by what this encoder answers for a fixed text: another model,
        # precision or device never reads this one's.
        self._prefix = encoder_fingerprint(encoder) if stored is not None else b""
        self._matrix = np.zeros((max(1, initial_capacity), encoder.dim), dtype=np.float32)
        self._skus: list[str] = []
        self._rows: dict[str, int] = {}
        self._titles: dict[str, str] = {}
        self.encoded_titles = 0  # how many titles went through the encoder, for metrics and tests

    def __len__(self) -> int:
        return len(self._skus)

    def __contains__(self, sku: object) -> bool:
        return sku in self._rows

    def update(self, titles: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[str]:
        """Upsert ``sku → title``; encode new and changed titles in one batch; return those SKUs."""
        pairs = titles.items() if isinstance(titles, Mapping) else titles
        changed: dict[str, str] = {}  # last title wins when a SKU repeats in one update
        for sku, title in pairs:
            if self._titles.get(sku) == title:
                changed.pop(sku, None)
            else:
                changed[sku] = title
        if not changed:
            return []
        vectors = self._vectors(list(changed.values()))
        for (sku, title), vector in zip(changed.items(), vectors, strict=True):
            self._put(sku, title, vector)
        return list(changed)

    def remove(self, sku: str) -> bool:
        """Forget a SKU; the last row moves into its slot so the matrix stays contiguous."""
        row = self._rows.pop(sku, None)
        if row is None:
            return False
        del self._titles[sku]
        last_sku = self._skus.pop()
        if last_sku != sku:
            self._skus[row] = last_sku
            self._rows[last_sku] = row
            self._matrix[row] = self._matrix[len(self._skus)]
        return True

    def title(self, sku: str) -> str | None:
        """The title the SKU's vector was encoded from, or ``None``."""
        return self._titles.get(sku)

    def vector(self, sku: str) -> np.ndarray:
        """The SKU's embedding (a read-only view); ``KeyError`` when unknown."""
        view = self._matrix[self._rows[sku]]
        view.flags.writeable = False
        return view

    def matrix(self) -> np.ndarray:
        """Read-only float32 ``[len(self), dim]`` view, rows in ``skus()`` order (copy it to keep it)."""
        view = self._matrix[: len(self._skus)]
        view.flags.writeable = False
        return view

    def skus(self) -> list[str]:
        """SKUs in matrix row order (a copy)."""
        return list(self._skus)

    def _vectors(self, titles: list[str]) -> np.ndarray:
        """Rows for ``titles``: from the store where it has them, the rest encoded in one batch."""
        if self._stored is None:
            self.encoded_titles += len(titles)
            return self._encoder.encode_batch(titles)
        width = 4 * self._encoder.dim
        found: dict[str, np.ndarray] = {}
        for title in dict.fromkeys(titles):
            raw = self._stored.get(self._key(title))
            if raw is not None and len(raw) == width:
                found[title] = np.frombuffer(raw, dtype=np.float32)
        missing = [title for title in dict.fromkeys(titles) if title not in found]
        if missing:
            self.encoded_titles += len(missing)
            for title, vector in zip(missing, self._encoder.encode_batch(missing), strict=True):
                found[title] = np.asarray(vector, dtype=np.float32)
                self._stored[self._key(title)] = found[title].tobytes()
        return np.stack([found[title] for title in titles])

    def _key(self, title: str) -> bytes:
        return self._prefix + hashlib.sha256(title.encode()).digest()

    def _put(self, sku: str, title: str, vector: np.ndarray) -> None:
        row = self._rows.get(sku)
        if row is None:
            row = len(self._skus)
            if row == len(self._matrix):  # grow geometrically: amortised O(1) inserts
                grown = np.zeros((2 * len(self._matrix), self._matrix.shape[1]), dtype=np.float32)
                grown[:row] = self._matrix
                self._matrix = grown
            self._skus.append(sku)
            self._rows[sku] = row
        self._matrix[row] = vector
        self._titles[sku] = title


def encoder_fingerprint(encoder: TextEncoder) -> bytes:
    """16 bytes that differ between encoders: a hash of the vector it gives a fixed text."""
    vector = np.asarray(encoder.encode_batch([FINGERPRINT_TEXT])[0], dtype=np.float32)
    return hashlib.sha256(vector.tobytes()).digest()[:16]
