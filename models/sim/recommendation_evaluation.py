"""Judge the pipeline's recommendation lists on the simulated sale, without Kafka.

:class:`ShadowRecommender` runs the stream's user path in process on the market's events and records
the lists it would show, with popularity lists beside them. Lists are scored by hit-rate@k on all
orders and on *novel* items: was an item the buyer later ordered on the list shown before they first
touched it (:func:`discoveries`)? A list that repeats what was just clicked scores on the first, never
on the second.

>>> orders = [(10.0, "u1", "a", 1), (20.0, "u2", "b", 2), (30.0, "u1", "b", 1)]
>>> shown = [(5.0, "u1", ("a", "c")), (25.0, "u1", ("c",))]
>>> hit_rate_at_k(orders, shown, k=10)  # u1's first order was on its list; nothing else was
0.3333333333333333
>>> popularity_hit_rate(orders, k=1)  # top-1 by recent units: none, then "a", then "b"
0.3333333333333333
"""

from __future__ import annotations

import bisect
import itertools
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.recommend.embeddings import UserVector, vector_norm
from models.recommend.profile import Item, UserProfile
from models.recommend.ranking import Ranker, RankParams
from models.recommend.reasons import Signal
from models.recommend.sales import SalesHistory
from models.sim.events import SimEvent, event_time

Order = tuple[float, str, str, int]  # (event time, user, sku, quantity)
Shown = tuple[float, str, tuple[str, ...]]  # (event time, user, ranked skus)
Listed = tuple[str, str, str]  # (sku, reason kind, reason) of one item of a list


def standin_vector(title: str, category: str | None = None, dim: int = 64) -> np.ndarray:
    """Unit vector of hashed category and title (or query) words: a cheap stand-in for BERT's."""
    v = np.zeros(dim, dtype=np.float32)
    words = title.lower().replace(",", " ").split()
    for word, weight in [*([(category, 3.0)] if category else []), *((w, 1.0) for w in words)]:
        v[zlib.crc32(word.encode()) % dim] += weight
    return v / float(np.linalg.norm(v))


#: Popularity lists judged beside the recommender's, at the same moments and under the same rules
#: (same candidates, bought items left out, items touched lately held to the same share): by units
#: sold so far, and by units sold in the last 10 minutes (ties: units so far). The first, the stronger
#: over seeds 1–10 of the demo's market, is the headline (see docs/recommendations.md).
POPULARITY_LISTS = ("units_so_far", "recent_units")


@dataclass
class ShadowRecommender:
    """The stream's user path (:class:`streams.users.processor.UserProcessor`) in process, on the same
    events: the same profiles, candidates (live campaign SKUs in stock, as of the statuses of the
    minutes closed before) and ranker; a list on every click-stream event or order outside the
    debounce. Lists are recorded, not shown; beside each, :data:`POPULARITY_LISTS` under its rules."""

    item_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    k: int = 10
    debounce_s: float = 5.0
    recent_minutes: float = 30.0
    recent_share: float = 0.0
    query_vector: Callable[[str], np.ndarray] = standin_vector  # BERT's in the stream
    params: RankParams = field(default_factory=RankParams)  # the stream's are the defaults
    items: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # sku → its catalog value
    profiles: dict[str, UserProfile] = field(default_factory=dict)
    recommended_at: dict[str, float] = field(default_factory=dict)
    sales: SalesHistory = field(default_factory=SalesHistory)
    live: dict[str, tuple[int | None, int]] = field(default_factory=dict)  # sku → (on hand, units sold)
    on_hand: dict[str, int | None] = field(default_factory=dict)  # as of the last closed minute (status)
    closed_at: float | None = None  # the start of the minute the statuses were last taken at
    first_touch: dict[tuple[str, str], float] = field(default_factory=dict)  # (user, sku) → time
    orders: list[Order] = field(default_factory=list)
    shown: list[Shown] = field(default_factory=list)
    lists: dict[tuple[str, str], tuple[Listed, ...]] = field(default_factory=dict)  # (user, event id) →
    popular: dict[str, list[Shown]] = field(default_factory=lambda: {n: [] for n in POPULARITY_LISTS})
    _ranker: tuple[int, Ranker] | None = None

    def observe(self, events: Iterable[SimEvent]) -> None:
        """Learn from one step's events (in event-time order); a list may follow a click or order."""
        for topic, _, v in events:
            self._close(event_time(v))
            if topic == "catalog":
                self.items[v["sku"]] = v
                self.item_vectors.setdefault(v["sku"], standin_vector(v["title"], v["category"]))
            elif topic == "stock":
                self.live[v["sku"]] = (v["on_hand"], self.live.get(v["sku"], (None, 0))[1])
            elif topic == "orders" and v["sku"] in self.items:
                on_hand, units = self.live.get(v["sku"], (None, 0))
                self.live[v["sku"]] = (on_hand, units + v["quantity"])
                self._learn(v, "order")
            elif topic == "clicks" and (v["sku"] in self.items or v["action"] == "search"):
                self._learn(v, v["action"])

    def _close(self, t: float) -> None:
        """At a new minute, what the stream's statuses tell of the minutes before it."""
        minute = int(t // 60) * 60
        if self.closed_at is None or minute > self.closed_at:
            if self.closed_at is not None:
                for sku, (on_hand, units) in self.live.items():
                    self.on_hand[sku] = on_hand
                    self.sales.note(sku, units, float(minute))
            self.closed_at = minute

    def _learn(self, v: Mapping[str, Any], action: str) -> None:
        t, user = event_time(v), v["user_id"]
        what: str = (v.get("query") if action == "search" else v.get("sku")) or ""
        if not what:
            return
        vector = self.query_vector(what) if action == "search" else self.item_vectors[what]
        norm = vector_norm(vector)
        if norm is None:
            return
        profile = self.profiles.setdefault(user, UserProfile(UserVector.empty(vector.size)))
        category = None if action == "search" else self.items[what]["category"]
        profile.learn(what, action, t, (vector, norm), category)
        if action != "search":
            self.first_touch.setdefault((user, what), t)
        if action == "order":
            self.orders.append((t, user, what, v["quantity"]))
        if user not in self.recommended_at or t - self.recommended_at[user] >= self.debounce_s:
            query = Signal("searched", what, vector / norm) if action == "search" else None
            self._recommend(user, profile, t, v["event_id"], query)
            self.recommended_at[user] = t

    def _recommend(
        self, user: str, profile: UserProfile, t: float, event_id: str, query: Signal | None
    ) -> None:
        ranker = self._ranker_at(t)
        if not ranker.skus:
            return
        recent, limit = profile.recent(t, 60 * self.recent_minutes), int(self.recent_share * self.k)
        top = ranker.top(
            profile.vector.embedding(), self.k, taste=profile.taste, query=query,
            signals=profile.signals(self._describe), exclude=profile.bought, recent=recent,
            recent_limit=limit,
        )  # fmt: skip
        self.shown.append((t, user, tuple(r.sku for r in top)))
        self.lists[(user, event_id)] = tuple((r.sku, r.kind, r.reason) for r in top)
        units, latest = ranker.sales, ranker.recent_orders
        assert latest is not None
        orders = {"units_so_far": units, "recent_units": latest * (units.max() + 1.0) + units}
        for name, scores in orders.items():
            listed = ranker.choose(scores, self.k, exclude=profile.bought, recent=recent, recent_limit=limit)
            self.popular[name].append((t, user, listed))

    def _ranker_at(self, t: float) -> Ranker:
        """The stream's candidates, once per minute of event time: live campaign SKUs in stock."""
        minute = int(t // 60)
        if self._ranker is None or self._ranker[0] != minute:
            skus = sorted(s for s, v in self.items.items() if _live(v, t) and self.on_hand.get(s) != 0)
            matrix = np.stack([self.item_vectors[s] for s in skus]) if skus else np.zeros((0, 1), np.float32)
            sales = np.array([self.sales.units(s) for s in skus], dtype=np.float64)
            latest = np.array([self.sales.recent(s, t) for s in skus], dtype=np.int64)
            categories = [self.items[s]["category"] for s in skus]
            self._ranker = (
                minute,
                Ranker(matrix, skus, sales, categories, recent_orders=latest, params=self.params),
            )
        return self._ranker[1]

    def _describe(self, sku: str) -> Item | None:
        item = self.items.get(sku)
        return None if item is None else Item(item["title"], self.item_vectors[sku], item["category"])


def _live(value: Mapping[str, Any], t: float) -> bool:
    """Whether the catalog ``value``'s campaign runs at event time ``t``."""
    campaign = value.get("campaign")
    if not campaign:
        return False
    return event_time({"ts": campaign["starts_at"]}) <= t < event_time({"ts": campaign["ends_at"]})


def hit_rate_at_k(orders: Sequence[Order], shown: Sequence[Shown], k: int = 10) -> float:
    """Share of orders whose SKU was in the top ``k`` of the buyer's latest list shown before it."""
    lists: dict[str, list[Shown]] = {}
    for item in sorted(shown, key=lambda s: s[0]):
        lists.setdefault(item[1], []).append(item)
    hits = 0
    for t, user, sku, _ in orders:
        mine = lists.get(user, [])
        i = bisect.bisect_left([s[0] for s in mine], t)
        hits += bool(i) and sku in mine[i - 1][2][:k]
    return hits / len(orders) if orders else 0.0


def discoveries(
    orders: Sequence[Order], shown: Sequence[Shown], first_touch: Mapping[tuple[str, str], float]
) -> list[Order]:
    """Each order as of its buyer's first touch of the SKU, for orders with a list shown to the buyer
    before that touch: did the list surface the item before the buyer found it?

    >>> orders = [(10.0, "u1", "a", 1), (30.0, "u1", "b", 1), (40.0, "u2", "a", 1)]
    >>> shown = [(5.0, "u1", ("b",)), (20.0, "u1", ("a",))]
    >>> discoveries(orders, shown, {("u1", "a"): 2.0, ("u1", "b"): 25.0, ("u2", "a"): 39.0})
    [(25.0, 'u1', 'b', 1)]
    """
    first_list: dict[str, float] = {}
    for t, user, _ in shown:
        first_list[user] = min(t, first_list.get(user, t))
    out = []
    for _, user, sku, quantity in orders:
        touched = first_touch[(user, sku)]
        if user in first_list and first_list[user] < touched:
            out.append((touched, user, sku, quantity))
    return out


def popularity_discovery_rate(orders: Sequence[Order], found: Sequence[Order], k: int = 10,
                              window_s: float = 600.0) -> float:  # fmt: skip
    """Share of ``found`` (see :func:`discoveries`) whose SKU was in the popularity top ``k`` (units
    ordered in the ``window_s`` before) at the moment of the first touch."""
    ordered = sorted(orders, key=lambda o: o[0])
    hits = start = end = 0
    units: Counter[str] = Counter()
    for t, _, sku, _ in sorted(found, key=lambda o: o[0]):
        while end < len(ordered) and ordered[end][0] < t:
            units[ordered[end][2]] += ordered[end][3]
            end += 1
        while start < end and ordered[start][0] < t - window_s:
            units[ordered[start][2]] -= ordered[start][3]
            start += 1
        top = sorted((p for p in units.items() if p[1] > 0), key=lambda p: (-p[1], p[0]))[:k]
        hits += sku in {s for s, _ in top}
    return hits / len(found) if found else 0.0


def popularity_hit_rate(orders: Sequence[Order], k: int = 10, window_s: float = 600.0) -> float:
    """Hit-rate@k of one list for everyone: the top ``k`` SKUs by units ordered in the ``window_s`` before."""
    ordered = sorted(orders, key=lambda o: o[0])
    units: Counter[str] = Counter()
    hits = start = 0
    for t, at_once in itertools.groupby(ordered, key=lambda o: o[0]):  # orders at one instant: not seen
        while ordered[start][0] < t - window_s:
            units[ordered[start][2]] -= ordered[start][3]
            start += 1
        top = [
            sku for sku, _ in sorted((p for p in units.items() if p[1] > 0), key=lambda p: (-p[1], p[0]))[:k]
        ]
        for _, _, sku, quantity in list(at_once):
            hits += sku in top
            units[sku] += quantity
    return hits / len(ordered) if ordered else 0.0


def recommendation_report(
    recommender: ShadowRecommender, k: int = 10, shown: Sequence[Shown] | None = None
) -> dict[str, Any]:
    """Hit-rate@k of the lists (``recommender.shown``, or ``shown``: those the stream published) on all
    orders and on novel items, beside popularity's: the headline popularity is the list by units sold
    so far, judged at the same moments under the same rules; ``popularity_readings`` holds every
    reading, ``at_order_time`` being one list for everyone by units in the last 10 minutes, nothing
    left out, judged at the order (all orders) or at the first touch (novel items)."""
    orders, shown = recommender.orders, recommender.shown if shown is None else shown
    found = discoveries(orders, shown, recommender.first_touch)
    readings = {
        name: {"hit_rate": hit_rate_at_k(orders, lists, k), "novel_hit_rate": hit_rate_at_k(found, lists, k)}
        for name, lists in recommender.popular.items()
    }
    readings["at_order_time"] = {
        "hit_rate": popularity_hit_rate(orders, k),
        "novel_hit_rate": popularity_discovery_rate(orders, found, k),
    }
    return {
        f"hit_rate_at_{k}": hit_rate_at_k(orders, shown, k),
        f"popularity_hit_rate_at_{k}": readings[POPULARITY_LISTS[0]]["hit_rate"],
        f"novel_hit_rate_at_{k}": hit_rate_at_k(found, shown, k),
        f"popularity_novel_hit_rate_at_{k}": readings[POPULARITY_LISTS[0]]["novel_hit_rate"],
        "popularity_readings": readings,
        "orders": len(orders),
        "novel_orders": len(found),
        "lists": len(shown),
    }
