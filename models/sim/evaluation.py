"""Evaluate the pipeline's pricing decisions on the simulated sale, without Kafka.

*Adaptive* runs :class:`models.policy.sku_state.SkuState` per SKU on the market's events exactly as the
worker does (events in event-time order, buckets closed behind the clock), so the stream and this
in-process path take the same decisions for the same input. It is compared, in the same market (same
config, common random numbers) and with the same recommendation setting (lists recorded, none shown),
with the static discount of the campaign, the best static discount in hindsight and the clairvoyant
plan (:mod:`models.sim.baselines`). Forecasts are scored one step ahead against seasonal-naive;
:func:`evaluate` also scores the live recommendation lists (:mod:`models.sim.recommendation_evaluation`).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from models.forecast.demand import DemandForecaster, SeasonalNaive
from models.ids import to_epoch
from models.policy.sku_state import Decision, SkuPolicy, SkuState
from models.sim.baselines import LABELS, best_static_in_hindsight, run_clairvoyant
from models.sim.events import event_time
from models.sim.ledger import Ledger
from models.sim.market import ScenarioConfig, SimEvent
from models.sim.policies import Decision as SimDecision
from models.sim.policies import PolicyCallback, Restock, SetDiscount, run_policy, run_static
from models.sim.recommendation_evaluation import ShadowRecommender, recommendation_report

KIND_RANK = {"catalog": 0, "stock": 1, "orders": 2}  # the worker's tie order (streams/runtime/clock.py)


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
    report = {
        "scenario": {n: v.isoformat() if isinstance(v, datetime) else v for n, v in asdict(config).items()},
        "policies": {name: policy_metrics(ledger) for name, ledger in ledgers.items()},
        "policy_labels": {name: LABELS[name] for name in ledgers},
        "best_static_discount": best_discount,
        "forecast": forecast,
        "recommendations": recommendation_report(recommender, k),
        "decisions": {"restock": kinds["restock"], "discount": kinds["discount"], "lag_minutes": lag_minutes},
    }
    return Evaluation(report, ledgers, backtests, adaptive.decisions)
