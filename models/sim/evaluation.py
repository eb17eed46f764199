"""Evaluate the pipeline's decisions on the simulated sale, without Kafka.

*Adaptive* runs :class:`models.policy.sku_state.SkuState` per SKU on the market's events exactly as the
worker does (events in event-time order, buckets closed behind the clock), so the stream and this
in-process path take the same decisions for the same input. It is compared, in the same market (same
config, common random numbers) and with the same recommendation setting (lists recorded, none shown),
with the static discount of the campaign, the best static discount in hindsight and the clairvoyant
plan (:mod:`models.sim.baselines`). Forecasts are scored one step ahead against seasonal-naive, and live
recommendation lists against a popularity list by hit-rate@k, on all orders and on *novel* items: was
an item the buyer later ordered on the list shown before they first touched it (:func:`discoveries`)?
A list that repeats what was just clicked scores on the first, never on the second.

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
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from models.forecast.demand import DemandForecaster, SeasonalNaive
from models.ids import to_epoch
from models.policy.sku_state import Decision, SkuPolicy, SkuState
from models.recommend.embeddings import UserVector
from models.recommend.ranking import PopularityTracker, rank
from models.sim.baselines import LABELS, best_static_in_hindsight, run_clairvoyant
from models.sim.ledger import Ledger
from models.sim.market import ScenarioConfig, SimEvent
from models.sim.policies import Decision as SimDecision
from models.sim.policies import PolicyCallback, Restock, SetDiscount, run_policy, run_static

KIND_RANK = {"catalog": 0, "stock": 1, "orders": 2}  # the worker's tie order (streams/runtime/clock.py)
Order = tuple[float, str, str, int]  # (event time, user, sku, quantity)
Shown = tuple[float, str, tuple[str, ...]]  # (event time, user, ranked skus)


def event_time(value: Mapping[str, Any]) -> float:
    """Event time (epoch seconds) of a contract event value."""
    return to_epoch(datetime.fromisoformat(value.get("ts") or value["updated_at"]))


def policy_metrics(ledger: Ledger) -> dict[str, float]:
    """Headline outcome of one policy run."""
    s = ledger.summary()
    keys = ("revenue", "sell_through", "stockout_minutes", "leftover", "lost_units", "restocked_units")
    return {"units": s["units_sold"], **{k: s[k] for k in keys}}


def to_sim(decision: Decision) -> SimDecision:
    """A pipeline decision as the market's action."""
    if decision.kind == "discount":
        return SetDiscount(decision.sku, float(decision.fields["new_discount"]))
    return Restock(decision.sku, int(decision.fields["quantity"]))


@dataclass
class AdaptivePolicy:
    """Per-SKU :class:`SkuState` on each step's events; decisions act ``lag_minutes`` steps later.

    The closed loop through Kafka cannot see minute *m*'s decisions before it publishes minute *m+1*
    (the worker's watermark must pass the bucket's end), so ``lag_minutes=1`` reproduces it exactly.
    """

    policy: SkuPolicy = field(default_factory=SkuPolicy)
    lag_minutes: int = 0
    states: dict[str, SkuState] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    _held: deque[list[Decision]] = field(default_factory=deque)

    def observe(self, events: Sequence[SimEvent], now: datetime) -> list[Decision]:
        """Apply the events and close the buckets ending by ``now``; returns the decisions taken."""
        items = [(event_time(v), KIND_RANK[t], i, v) for i, (t, _, v) in enumerate(events) if t in KIND_RANK]
        taken: list[Decision] = []
        for t, _, _, value in sorted(items, key=lambda item: item[:3]):
            state = self.states.setdefault(value["sku"], SkuState(value["sku"], self.policy))
            if state.rejects(value):
                continue  # the stream dead-letters it
            taken += state.advance(t)
            state.apply(value, t)
        for sku in sorted(self.states):
            taken += self.states[sku].advance(to_epoch(now))
        self.decisions += taken
        return taken

    def __call__(self, events: Sequence[SimEvent], now: datetime) -> list[SimDecision]:
        self._held.append(self.observe(events, now))
        due = self._held.popleft() if len(self._held) > self.lag_minutes else []
        return [to_sim(d) for d in due]


def standin_vector(title: str, category: str, dim: int = 64) -> np.ndarray:
    """Unit vector of hashed category and title words: a cheap stand-in for the BERT item vector."""
    v = np.zeros(dim, dtype=np.float32)
    for word, weight in [(category, 3.0), *((w, 1.0) for w in title.lower().replace(",", " ").split())]:
        v[zlib.crc32(word.encode()) % dim] += weight
    return v / float(np.linalg.norm(v))


@dataclass
class ShadowRecommender:
    """The pipeline's ranking (user vector blended with what sells now) under the stream's rules —
    bought items left out, items touched within ``recent_minutes`` held to ``recent_share`` of a list;
    lists are recorded, not shown."""

    item_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    k: int = 10
    debounce_s: float = 5.0
    recent_minutes: float = 30.0
    recent_share: float = 0.0
    touched: dict[str, dict[str, float]] = field(default_factory=dict)  # user → sku → last time
    first_touch: dict[tuple[str, str], float] = field(default_factory=dict)  # (user, sku) → time
    bought: dict[str, set[str]] = field(default_factory=dict)
    popularity: PopularityTracker = field(default_factory=PopularityTracker)
    users: dict[str, UserVector] = field(default_factory=dict)
    last_shown: dict[str, float] = field(default_factory=dict)
    on_hand: dict[str, int] = field(default_factory=dict)
    shown: list[Shown] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    _ranking: tuple[float, list[str], np.ndarray, np.ndarray] | None = None  # (time, skus, items, popularity)

    def observe(self, events: Iterable[SimEvent]) -> None:
        """Learn from one step's events (in event-time order); a click-stream event may yield a list."""
        for topic, _, v in events:
            if topic == "catalog":
                self.item_vectors.setdefault(v["sku"], standin_vector(v["title"], v["category"]))
            elif topic == "stock":
                self.on_hand[v["sku"]] = v["on_hand"]
            elif topic in ("clicks", "orders") and v.get("sku") in self.item_vectors:
                self._learn(v, "order" if topic == "orders" else v["action"])

    def _learn(self, v: Mapping[str, Any], action: str) -> None:
        ts, user, sku = datetime.fromisoformat(v["ts"]), v["user_id"], v["sku"]
        self.popularity.learn_one(sku, action, ts)
        vec = self.item_vectors[sku]
        self.users[user] = self.users.get(user, UserVector.empty(vec.size)).learn_one(vec, action, ts)
        t = to_epoch(ts)
        touched = self.touched.setdefault(user, {})
        self.first_touch.setdefault((user, sku), t)
        if action == "order":
            self.orders.append((t, user, sku, v["quantity"]))
            self.bought.setdefault(user, set()).add(sku)
        touched[sku] = t
        if action != "order" and t - self.last_shown.get(user, -1e18) >= self.debounce_s:
            self.last_shown[user] = t
            if self._ranking is None or t - self._ranking[0] >= 1.0:  # popularity: once per second
                skus = sorted(self.item_vectors)
                items = np.stack([self.item_vectors[s] for s in skus])
                self._ranking = (t, skus, items, self.popularity.arrays(skus)[0])
            _, skus, items, popularity = self._ranking
            mask = np.array([self.on_hand.get(s, 1) > 0 for s in skus])
            recent = {s for s, when in touched.items() if when >= t - 60 * self.recent_minutes}
            ranked = rank(self.users[user].embedding(), items, skus, popularity, self.k, mask=mask,
                          exclude=self.bought.get(user, set()), recent=recent,
                          recent_limit=int(self.recent_share * self.k))  # fmt: skip
            self.shown.append((t, user, tuple(r.sku for r in ranked)))


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


def backtest(series: Sequence[float], season: int = 60, level: float = 0.9) -> dict[str, np.ndarray]:
    """One-step-ahead forecasts of a per-minute series: the forecaster with its ``level`` band, and
    seasonal-naive; the first value (nothing learnt yet) is NaN."""
    model, naive = DemandForecaster(season=season), SeasonalNaive(season=season)
    out = {name: np.full(len(series), np.nan) for name in ("forecast", "lo", "hi", "seasonal_naive")}
    for m, y in enumerate(series):
        if m:
            out["forecast"][m] = model.forecast(1)[0]
            out["lo"][m], out["hi"][m] = model.interval(1, level)
            out["seasonal_naive"][m] = naive.forecast(1)[0]
        model.learn_one(y)
        naive.learn_one(y)
    return out


def forecast_mae(sold: np.ndarray, season: int = 60) -> tuple[dict[str, float], list[dict[str, np.ndarray]]]:
    """MAE over every SKU and minute of the forecaster and of seasonal-naive, plus each SKU's backtest."""
    runs = [backtest(row.tolist(), season) for row in sold]
    actual = sold[:, 1:].astype(float)

    def mae(name: str) -> float:
        return float(np.mean(np.abs(np.stack([r[name][1:] for r in runs]) - actual))) if runs else 0.0

    return {"mae": mae("forecast"), "seasonal_naive_mae": mae("seasonal_naive"), "season": season}, runs


def pricing_ledgers(config: ScenarioConfig, adaptive: PolicyCallback) -> tuple[dict[str, Ledger], float]:
    """The four pricing policies in the market of ``config`` (each run builds it afresh: the same
    shoppers, no recommendation list applied), in report order, and the best static discount."""
    best = best_static_in_hindsight(config)
    ledgers = {
        "static": run_static(config),
        "best_static": best.ledger,
        "adaptive": run_policy(config, adaptive),
        "clairvoyant": run_clairvoyant(config),
    }
    return ledgers, best.discount


@dataclass
class Evaluation:
    """The JSON-able ``report`` plus what the plots need."""

    report: dict[str, Any]
    ledgers: dict[str, Ledger]
    backtests: list[dict[str, np.ndarray]]
    decisions: list[Decision]


def evaluate(
    config: ScenarioConfig,
    policy: SkuPolicy | None = None,
    lag_minutes: int = 1,
    item_vectors: Mapping[str, np.ndarray] | None = None,
    k: int = 10,
) -> Evaluation:
    """Run adaptive (in process) and the baselines (:func:`pricing_ledgers`) on ``config`` and score
    forecasts and recommendation lists.

    Forecasts are scored with the policy's own season, against seasonal-naive at that season.
    """
    policy = policy or SkuPolicy()
    adaptive = AdaptivePolicy(policy, lag_minutes)
    recommender = ShadowRecommender(dict(item_vectors or {}), k)

    def callback(events: Sequence[SimEvent], now: datetime) -> list[SimDecision]:
        recommender.observe(events)
        return adaptive(events, now)

    ledgers, best_discount = pricing_ledgers(config, callback)
    forecast, backtests = forecast_mae(ledgers["adaptive"].sold, policy.season_buckets)
    kinds = Counter(d.kind for d in adaptive.decisions)
    orders, shown = recommender.orders, recommender.shown
    found = discoveries(orders, shown, recommender.first_touch)
    report = {
        "scenario": {n: v.isoformat() if isinstance(v, datetime) else v for n, v in asdict(config).items()},
        "policies": {name: policy_metrics(ledger) for name, ledger in ledgers.items()},
        "policy_labels": {name: LABELS[name] for name in ledgers},
        "best_static_discount": best_discount,
        "forecast": forecast,
        "recommendations": {
            f"hit_rate_at_{k}": hit_rate_at_k(orders, shown, k),
            f"popularity_hit_rate_at_{k}": popularity_hit_rate(orders, k),
            f"novel_hit_rate_at_{k}": hit_rate_at_k(found, shown, k),
            f"popularity_novel_hit_rate_at_{k}": popularity_discovery_rate(orders, found, k),
            "orders": len(orders),
            "novel_orders": len(found),
            "lists": len(shown),
        },
        "decisions": {"restock": kinds["restock"], "discount": kinds["discount"], "lag_minutes": lag_minutes},
    }
    return Evaluation(report, ledgers, backtests, adaptive.decisions)
