"""What the ranker knows of one user: their vector, latest interactions, purchases and category taste.

The stream keeps one :class:`UserProfile` per user inside its table slot
(:class:`streams.users.state.UserSlot`) and the in-process twin
(:class:`models.sim.recommendation_evaluation.ShadowRecommender`) keeps the same objects, so both learn
the same way.

*Taste* counts, per catalogue category, the SKUs a user came to: an interaction with an SKU that is
not among their latest interactions counts once for its category (a view, click, cart and order of
one product page are one visit). Searches move the vector but have no category.

>>> from models.recommend.embeddings import UserVector
>>> p = UserProfile(UserVector.empty(2))
>>> item = (np.array([1.0, 0.0], dtype=np.float32), 1.0)
>>> for what, action, t in [("a", "view", 0.0), ("a", "click", 1.0), ("b", "view", 2.0)]:
...     p.learn(what, action, t, item, "audio")
>>> p.taste, sorted(p.recent(2.0, window_s=1.5))
({'audio': 2.0}, ['a', 'b'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from models.recommend.embeddings import ACTION_WEIGHTS, UserVector
from models.recommend.reasons import SIGNAL_KIND, Signal

TOUCHED_MAX = 10  # interactions kept per user: the reasons' signals and the "seen lately" set
BOUGHT_MAX = 50  # purchases kept per user: never recommended again
TASTE_MAX = 32  # categories kept per user; the least visited goes first


class Touch(NamedTuple):
    """One interaction of the user: ``what`` is the SKU, or the query of a search."""

    what: str
    action: str  # view, click, add_to_cart, order or search
    ts: float


@dataclass
class UserProfile:
    """A user's vector, latest interactions, purchases and visits per category."""

    vector: UserVector
    touched: list[Touch] = field(default_factory=list)  # the latest TOUCHED_MAX, oldest first
    bought: list[str] = field(default_factory=list)  # SKUs, the latest BOUGHT_MAX
    taste: dict[str, float] = field(default_factory=dict)  # category → SKUs visited

    def learn(
        self, what: str, action: str, ts: float, item: tuple[np.ndarray, float], category: str | None
    ) -> None:
        """One interaction at event time ``ts``: ``item`` is the vector (and its norm) of the SKU or
        query ``what``, ``category`` the SKU's (None for a search)."""
        self.vector = self.vector.learn_checked(*item, ACTION_WEIGHTS[action], ts)
        if category is not None and action != "search" and all(t.what != what for t in self.touched):
            self.taste[category] = self.taste.get(category, 0.0) + 1.0
            if len(self.taste) > TASTE_MAX:
                del self.taste[min(self.taste, key=lambda c: (self.taste[c], c))]
        self.touch(what, action, ts)

    def touch(self, what: str, action: str, ts: float) -> None:
        """Note an interaction (the latest per ``what`` and action); an order also notes a purchase.

        >>> p = UserProfile(None)  # type: ignore[arg-type]
        >>> for i, (sku, action) in enumerate([("a", "view"), ("b", "view"), ("a", "view"), ("b", "order")]):
        ...     p.touch(sku, action, float(i))
        >>> [(t.what, t.action) for t in p.touched], p.bought
        ([('b', 'view'), ('a', 'view'), ('b', 'order')], ['b'])
        """
        kept = [t for t in self.touched if (t.what, t.action) != (what, action)]
        self.touched = [*kept, Touch(what, action, ts)][-TOUCHED_MAX:]
        if action == "order" and what not in self.bought:
            self.bought = [*self.bought, what][-BOUGHT_MAX:]

    def recent(self, ts: float, window_s: float) -> set[str]:
        """SKUs touched within ``window_s`` before ``ts`` (searches are not items)."""
        return {t.what for t in self.touched if t.action != "search" and t.ts >= ts - window_s}

    def signals(self, describe: Callable[[str], Item | None]) -> list[Signal]:
        """The SKUs touched (latest first, once each) as signals a reason may name; ``describe`` gives
        an SKU's title, unit vector and category, or None for one it does not know. Searches are left
        out: a list names only the search it answers (so batching never changes a reason)."""
        signals, named = [], set()
        for touch in reversed(self.touched):
            if touch.action == "search" or touch.what in named:
                continue
            named.add(touch.what)
            found = describe(touch.what)
            if found is not None:
                signals.append(Signal(SIGNAL_KIND[touch.action], found.title, found.vector, found.category))
        return signals


class Item(NamedTuple):
    """What a reason needs of an SKU."""

    title: str
    vector: np.ndarray  # unit norm
    category: str
