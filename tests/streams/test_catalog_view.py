"""The catalog view's item vectors as users learn from them: checked once per title, refreshed when the
catalog changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from models.text.cache import ItemEmbeddingCache
from streams.contracts.records import Campaign, CatalogItem
from streams.users.catalog_view import CatalogView

T0 = datetime(2024, 11, 11, tzinfo=UTC)
VECTORS = {"earbuds": [3.0, 4.0], "blank": [0.0, 0.0], "kettle": [0.0, 2.0]}


class TitleVectors:
    """An encoder with a fixed vector per title (the view's caching is under test, not BERT)."""

    dim = 2

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([VECTORS[t] for t in texts], dtype=np.float32)


def item(sku: str, title: str, starts_min: float | None = None, ends_min: float = 60.0) -> CatalogItem:
    """A listing, in a campaign from ``starts_min`` to ``ends_min`` after T0 when ``starts_min`` is given."""
    campaign = None
    if starts_min is not None:
        campaign = Campaign(
            campaign_id="c1", starts_at=T0 + timedelta(minutes=starts_min),
            ends_at=T0 + timedelta(minutes=ends_min), discount=0.2, min_discount=0.1, max_discount=0.5,
            restock_lead_minutes=20,
        )  # fmt: skip
    return CatalogItem(
        sku=sku, title=title, category="audio", base_price=10.0, updated_at=T0, campaign=campaign
    )


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


def test_candidates_are_the_live_campaign_skus_in_stock_in_sku_order() -> None:
    view = CatalogView(embeddings=ItemEmbeddingCache(TitleVectors()))
    view.apply_catalog([item("C", "kettle", 0), item("A", "earbuds", 0), item("B", "earbuds", 1.5),
                        item("D", "kettle"), item("E", "earbuds", 0)])  # fmt: skip
    view.note_status("E", {"on_hand": 0, "units_sold": 2}, T0.timestamp())
    view.note_status("C", {"on_hand": 3, "units_sold": 4}, T0.timestamp())
    found = view.candidates(T0.timestamp() + 60)  # B's campaign starts only at 1.5 min; E sold out
    assert found.skus == ["A", "C"] and found.units.tolist() == [0.0, 4.0]
    assert found.matrix.tolist() == [[3.0, 4.0], [0.0, 2.0]] and found.categories == ["audio", "audio"]
    assert view.candidates(T0.timestamp() + 90).skus == ["A", "B", "C"]
    view.apply_catalog([item("A", "earbuds", 0, ends_min=2)])  # its campaign now ends at minute 2
    assert view.candidates(T0.timestamp() + 125).skus == ["B", "C"]
