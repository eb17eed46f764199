"""Rank live campaign SKUs for a user: cosine to the user vector blended with what is selling now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np

from models.ids import to_epoch

#: What an interaction is worth relative to an order in the popularity score.
INTERACTION_WEIGHT = 0.2


class Recommendation(NamedTuple):
    sku: str
    score: float
    reason: str


@dataclass
class PopularityTracker:
    """Orders and interactions per SKU over a sliding event-time window, in per-minute slots.

    Late events still count when their slot is inside the window; the window ends at the latest event
    time seen (``watermark``), never at wall-clock time.

    Examples
    --------
    >>> from datetime import UTC
    >>> p = PopularityTracker(window_s=600)
    >>> for m in (0, 5, 12):
    ...     p.learn_one("a", "order", datetime(2024, 1, 1, 0, m, tzinfo=UTC))
    >>> p.counts("a")  # the order at minute 0 has left the 10-minute window
    (2.0, 0.0)
    """

    window_s: int = 600
    slot_s: int = 60
    watermark: float | None = None
    slots: dict[str, dict[int, list[float]]] = field(default_factory=dict)  # sku -> slot -> [orders, other]

    def learn_one(self, sku: str, action: str, ts: datetime) -> None:
        """Count one event (``order``, or any click-stream action) for ``sku`` at event time ``ts``."""
        t = to_epoch(ts)
        self.watermark = t if self.watermark is None else max(self.watermark, t)
        slot = int(t // self.slot_s) * self.slot_s
        if not self._live(slot, self.watermark):
            return
        per_sku = self.slots.setdefault(sku, {})
        counts = per_sku.setdefault(slot, [0.0, 0.0])
        counts[0 if action == "order" else 1] += 1.0
        for s in [s for s in per_sku if not self._live(s, self.watermark)]:
            del per_sku[s]

    def _live(self, slot: int, now: float) -> bool:
        return slot + self.slot_s > now - self.window_s

    def counts(self, sku: str) -> tuple[float, float]:
        """(orders, other interactions) of ``sku`` in the window ending at the watermark."""
        if self.watermark is None:
            return 0.0, 0.0
        live = [c for s, c in self.slots.get(sku, {}).items() if self._live(s, self.watermark)]
        return sum(c[0] for c in live), sum(c[1] for c in live)

    def arrays(self, skus: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(popularity scores, order counts) aligned with ``skus``, ready for :func:`rank`."""
        c = np.array([self.counts(s) for s in skus], dtype=np.float64).reshape(len(skus), 2)
        return c[:, 0] + INTERACTION_WEIGHT * c[:, 1], c[:, 0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state; slots that left the window (and SKUs with none left) are dropped."""
        now = self.watermark
        slots = {
            sku: live
            for sku, per_sku in self.slots.items()
            if (live := {str(s): c for s, c in per_sku.items() if now is None or self._live(s, now)})
        }
        return {"window_s": self.window_s, "slot_s": self.slot_s, "watermark": now, "slots": slots}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PopularityTracker:
        slots = {k: {int(s): list(c) for s, c in v.items()} for k, v in d["slots"].items()}
        return cls(d["window_s"], d["slot_s"], d["watermark"], slots)


def rank(
    user_vec: np.ndarray | None,
    item_matrix: np.ndarray,
    skus: Sequence[str],
    popularity: np.ndarray,
    k: int = 10,
    *,
    mask: np.ndarray | None = None,
    similarity_weight: float = 0.7,
    categories: Sequence[str] | None = None,
    recent_orders: np.ndarray | None = None,
    window_minutes: int = 10,
) -> list[Recommendation]:
    """Top ``k`` SKUs by ``w * cosine + (1 - w) * popularity``, each with a short reason.

    ``item_matrix`` rows are unit-norm item vectors aligned with ``skus``; ``mask`` (bool) keeps the
    candidates (live, in stock). Popularity is log-scaled to [0, 1] so one runaway SKU does not flatten
    the rest. A user without a vector (``None`` or zeros) gets popularity alone. To rank many users
    against the same items, build one :class:`Ranker` and call :meth:`Ranker.top` for each.

    Examples
    --------
    >>> items = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    >>> recs = rank(np.array([1.0, 0.0]), items, ["a", "b", "c"], np.array([0.0, 9.0, 0.0]), k=2,
    ...             categories=["audio", "toys", "audio"], recent_orders=np.array([0, 9, 0]))
    >>> [(r.sku, r.reason) for r in recs]
    [('a', 'similar to your recent audio activity'), ('c', 'similar to your recent audio activity')]
    """
    ranker = Ranker(
        item_matrix, skus, popularity, mask=mask, similarity_weight=similarity_weight,
        categories=categories, recent_orders=recent_orders, window_minutes=window_minutes,
    )  # fmt: skip
    return ranker.top(user_vec, k)


@dataclass
class Ranker:
    """:func:`rank` for one set of items: what does not depend on the user is computed once."""

    item_matrix: np.ndarray
    skus: Sequence[str]
    popularity: np.ndarray
    mask: np.ndarray | None = None
    similarity_weight: float = 0.7
    categories: Sequence[str] | None = None
    recent_orders: np.ndarray | None = None
    window_minutes: int = 10
    _pop: np.ndarray = field(init=False, repr=False)  # popularity log-scaled to [0, 1]
    _candidates: np.ndarray = field(init=False, repr=False)  # indices the mask keeps
    _pop_parts: dict[float, np.ndarray] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.skus)
        if self.item_matrix.shape[0] != n or self.popularity.shape != (n,):
            raise ValueError("item_matrix rows, skus and popularity must align")
        logpop = np.log1p(np.maximum(self.popularity, 0.0))
        top = float(logpop.max()) if n else 0.0
        self._pop = logpop / top if top > 0 else np.zeros(n)
        keep = np.ones(n, dtype=bool) if self.mask is None else np.asarray(self.mask, dtype=bool)
        self._candidates = np.flatnonzero(keep)

    def top(self, user_vec: np.ndarray | None, k: int = 10) -> list[Recommendation]:
        """The top ``k`` for ``user_vec``, best first (see :func:`rank`)."""
        u = None if user_vec is None else np.asarray(user_vec, dtype=np.float32).ravel()
        u_norm = 0.0 if u is None else float(np.linalg.norm(u))
        w = self.similarity_weight if u_norm > 0 else 0.0
        n = len(self.skus)
        sims = self.item_matrix @ (u / u_norm) if u is not None and u_norm > 0 else np.zeros(n, np.float32)
        if w not in self._pop_parts:
            self._pop_parts[w] = (1.0 - w) * self._pop
        sim_part, pop_part = w * sims.astype(np.float64), self._pop_parts[w]
        scores = sim_part + pop_part
        cand = self._candidates
        k = min(k, cand.size)
        if k <= 0:
            return []
        best = cand[np.argpartition(-scores[cand], k - 1)[:k]]
        best = best[np.lexsort((best, -scores[best]))]  # ties broken by position: deterministic output
        out, categories, orders = [], self.categories, self.recent_orders
        for i in best:
            if w > 0 and sim_part[i] >= pop_part[i]:
                what = f" {categories[i]}" if categories is not None else ""
                reason = f"similar to your recent{what} activity"
            elif orders is not None and orders[i] >= 1:
                reason = f"trending: {int(orders[i])} orders in the last {self.window_minutes} min"
            else:
                reason = "popular in this sale"
            out.append(Recommendation(self.skus[i], float(scores[i]), reason))
        return out
