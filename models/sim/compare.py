"""Many seeds, like with like: the adaptive policy against its baselines, with a 95 % CI over seeds.

Each seed is one market (:class:`~models.sim.truth.ScenarioConfig` with that seed); in it every policy
runs on the same shoppers with the same recommendation setting (:func:`models.sim.evaluation.evaluate`).
Per seed the ratio adaptive ÷ best static in hindsight and adaptive ÷ clairvoyant plan are taken; the
summary is their mean and a 95 % Student-t interval over the seeds (:func:`mean_ci95`), so a seed is
the unit of replication and the interval says how far the mean might move with other markets.

>>> mean_ci95([1.0, 1.1, 1.2])
{'mean': 1.1, 'ci95': [0.8516, 1.3484]}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from scipy import stats

from models.policy.sku_state import SkuPolicy
from models.sim.evaluation import AdaptivePolicy, evaluate, policy_metrics, pricing_ledgers
from models.sim.ledger import Ledger
from models.sim.truth import ScenarioConfig

RATIOS = {"adaptive_vs_best_static": "best_static", "adaptive_vs_clairvoyant": "clairvoyant"}
# All orders, and novel items (judged at the buyer's first touch), each beside popularity's own.
HIT_RATES = (
    "hit_rate_at_10",
    "novel_hit_rate_at_10",
    "popularity_hit_rate_at_10",
    "popularity_novel_hit_rate_at_10",
)


def mean_ci95(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """Mean and two-sided 95 % Student-t confidence interval of the mean (None below two values)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = sum(values) / n
    if n < 2:
        return {"mean": round(mean, digits), "ci95": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"mean": round(mean, digits), "ci95": [round(mean - half, digits), round(mean + half, digits)]}


def seed_row(seed: int, ledgers: dict[str, Ledger], best_static_discount: float) -> dict[str, Any]:
    """One seed's outcome: each policy's headline numbers, the best static discount and the ratios."""
    revenue = {name: ledger.revenue for name, ledger in ledgers.items()}
    row: dict[str, Any] = {"seed": seed, "best_static_discount": best_static_discount}
    for key, baseline in RATIOS.items():
        row[key] = round(revenue["adaptive"] / revenue[baseline], 4)
    row["policies"] = {name: policy_metrics(ledger) for name, ledger in ledgers.items()}
    return row


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The two ratio blocks over ``rows`` plus the rows themselves."""
    return {
        **{key: mean_ci95([row[key] for row in rows]) for key in RATIOS},
        "per_seed": list(rows),
    }


def pricing_row(config: ScenarioConfig, policy: SkuPolicy, lag_minutes: int = 1) -> dict[str, Any]:
    """Only the pricing comparison of one market (no recommendation scoring): one seed's row."""
    ledgers, best = pricing_ledgers(config, AdaptivePolicy(policy, lag_minutes))
    return seed_row(config.seed, ledgers, best)


def compare_seeds(
    seeds: Iterable[int],
    policy: SkuPolicy,
    market: Callable[[int], ScenarioConfig] = lambda seed: ScenarioConfig(seed=seed),
    second_market: Callable[[int], ScenarioConfig] | None = None,
    lag_minutes: int = 1,
    lists: bool = True,
) -> dict[str, Any]:
    """The many-seed comparison (the JSON of ``flashsale evaluate``).

    For every seed: :func:`evaluate` in ``market(seed)`` (pricing and, with ``lists``, the scoring of
    recommendation lists) and, when ``second_market`` is given, the pricing comparison in
    ``second_market(seed)``. Hit-rates are the mean over seeds of each seed's rate (None without
    ``lists``).
    """
    rows, second = [], []
    for seed in seeds:
        if lists:
            evaluation = evaluate(market(seed), policy, lag_minutes)
            row = seed_row(seed, evaluation.ledgers, evaluation.report["best_static_discount"])
            row["recommendations"] = {k: evaluation.report["recommendations"][k] for k in HIT_RATES}
        else:
            row = pricing_row(market(seed), policy, lag_minutes)
        rows.append(row)
        if second_market is not None:
            second.append(pricing_row(second_market(seed), policy, lag_minutes))
    if not rows:
        raise ValueError("no seeds")
    out: dict[str, Any] = {"seeds": [row["seed"] for row in rows], **summarize(rows)}
    out["second_market"] = summarize(second) if second else None
    for key in HIT_RATES:
        out[key] = round(sum(r["recommendations"][key] for r in rows) / len(rows), 4) if lists else None
    return out


def second_market_of(config: ScenarioConfig) -> ScenarioConfig:
    """The same scenario in the second market (demand that responds differently to the discount)."""
    return replace(config, demand_response="saturating")
