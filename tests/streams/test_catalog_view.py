"""The catalog view's item vectors as users learn from them: checked once per title, refreshed when the
catalog changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from models.text.cache import ItemEmbeddingCache
from streams.contracts.records import CatalogItem
from streams.users.catalog_view import CatalogView

T0 = datetime(2024, 11, 11, tzinfo=UTC)
VECTORS = {"earbuds": [3.0, 4.0], "blank": [0.0, 0.0], "kettle": [0.0, 2.0]}


class TitleVectors:
    """An encoder with a fixed vector per title (the view's caching is under test, not BERT)."""

    dim = 2

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([VECTORS[t] for t in texts], dtype=np.float32)


def item(sku: str, title: str) -> CatalogItem:
    return CatalogItem(sku=sku, title=title, category="audio", base_price=10.0, updated_at=T0)


def test_users_learn_from_the_current_title_and_never_from_a_zero_vector() -> None:
    view = CatalogView(embeddings=ItemEmbeddingCache(TitleVectors()))
    view.apply_catalog([item("A", "earbuds"), item("B", "blank")])
    learnable = view.learnable("A")
    assert learnable is not None and learnable[0].tolist() == [3.0, 4.0] and learnable[1] == 5.0
    assert view.learnable("B") is None and view.learnable("C") is None  # zero vector; not listed
    view.apply_catalog([item("A", "kettle"), item("C", "earbuds")])  # retitled and newly listed
    retitled, listed = view.learnable("A"), view.learnable("C")
    assert retitled is not None and retitled[0].tolist() == [0.0, 2.0] and retitled[1] == 2.0
    assert listed is not None and listed[1] == 5.0
