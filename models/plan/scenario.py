"""The market that validates the plan: a shop with a day curve, a week of history, then the sale day.

The history is ``history_days`` days of everyday traffic before the sale day, with one past flash sale
(``past_sale_minutes`` long, on a day and at an hour drawn from the seed) in which every SKU's discount
was drawn afresh from the campaign's grid each ``price_test_minutes`` — a price test, the only price
variation the history holds. The plan learns from what the stream would have kept of it (units sold
per minute, the discount live, minutes that ended sold out left out).

The shop's stock for the sale does not depend on when the sale runs: per SKU, a coverage drawn from
the scenario's ``stock_coverage`` × the units expected at the campaign's default discount in a
``reference_minutes`` sale, averaged over every start of the sale day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from models.plan.history import History, SkuInfo, Terms, from_minutes
from models.policy.sku_state import SkuPolicy
from models.sim.daycurve import TYPICAL_DAY, DayCurve
from models.sim.evaluation import AdaptivePolicy
from models.sim.ledger import Ledger
from models.sim.market import FlashSaleMarket, SimEvent, timestamp_ms
from models.sim.policies import apply_decisions
from models.sim.truth import MarketTruth, ScenarioConfig, traffic_curve


@dataclass(frozen=True)
class PlanScenario:
    """What the validation varies besides the seed."""

    day_curve: DayCurve = TYPICAL_DAY
    sale_day: datetime = datetime(2026, 11, 11, tzinfo=UTC)
    history_days: int = 7
    past_sale_minutes: int = 120
    price_test_minutes: int = 20
    reference_minutes: int = 120
    n_users: int = 2000
    n_skus: int = 40
    sessions_per_minute: float = 100.0

    def config(self, seed: int, start: datetime, minutes: int, **kw: Any) -> ScenarioConfig:
        """A scenario of this shop from ``start`` for ``minutes``; a campaign all along unless set."""
        base: dict[str, Any] = {"campaign_offset_minutes": 0, "campaign_minutes": minutes}
        return ScenarioConfig(
            seed=seed,
            n_users=self.n_users,
            n_skus=self.n_skus,
            start=start,
            duration_minutes=minutes,
            day_curve=self.day_curve,
            sessions_per_minute=self.sessions_per_minute,
            **(base | kw),
        )

    def terms(self) -> Terms:
        c = ScenarioConfig()
        return Terms(c.default_discount, c.min_discount, c.max_discount, c.restock_lead_minutes)


def sku_infos(truth: MarketTruth) -> tuple[SkuInfo, ...]:
    return tuple(SkuInfo(s.sku, s.category, s.base_price) for s in truth.catalog)


def past_sale(seed: int, scenario: PlanScenario) -> int:
    """Minute of the history at which its past sale started (a day and an hour from 08:00 to 21:00)."""
    rng = np.random.default_rng([seed, 0x9A57])
    return int(rng.integers(scenario.history_days)) * 1440 + int(rng.integers(8, 22)) * 60


def simulate_history(seed: int, scenario: PlanScenario) -> History:
    """The history before the sale day, as the stream would have kept it."""
    s = scenario
    offset = past_sale(seed, s)
    config = s.config(
        seed,
        s.sale_day - timedelta(days=s.history_days),
        s.history_days * 1440,
        campaign_offset_minutes=offset,
        campaign_minutes=s.past_sale_minutes,
        stock_coverage=(1.5, 2.0),
        stock_snapshot_minutes=60,
    )
    market = FlashSaleMarket(config)
    market.initial_events()
    rng = np.random.default_rng([seed, 0x7E57])
    grid = s.terms().grid()
    tests = range(offset, offset + s.past_sale_minutes, s.price_test_minutes)
    for minute in [*tests, config.duration_minutes]:
        market.step(minute - market.minute)
        if minute < config.duration_minutes:
            for sku in market.skus:
                market.apply_discount(sku, float(rng.choice(grid)), market.now)
    ledger = market.ledger()
    start = config.start.timestamp()
    window = (start + 60.0 * offset, start + 60.0 * (offset + s.past_sale_minutes))
    return from_minutes(
        sku_infos(market.truth), start, ledger.sold, ledger.discount, ledger.on_hand, (window,), s.terms()
    )


def sale_lift(minutes: int) -> np.ndarray:
    """The simulator's traffic multiplier of each minute since a sale's start."""
    config = ScenarioConfig(duration_minutes=minutes, campaign_offset_minutes=0, campaign_minutes=minutes)
    return traffic_curve(config) / config.sessions_per_minute


def shop_stock(seed: int, scenario: PlanScenario, step: int = 15) -> np.ndarray:
    """The shop's stock per SKU for the sale (see the module doc)."""
    s, ref = scenario, scenario.reference_minutes
    flat = s.config(seed, s.sale_day, 1440 + ref, spike_multiplier=1.0, campaign_multiplier=1.0)
    truth = MarketTruth(flat)
    default = np.full(s.n_skus, flat.default_discount)
    rate = np.stack([truth.demand_rate(m, default) for m in range(flat.duration_minutes)], axis=1)
    lift = sale_lift(ref)
    starts = np.arange(0, 1440, step)
    expected = np.mean([rate[:, t : t + ref] @ lift for t in starts], axis=0)
    coverage = np.random.default_rng([seed, 0x570C]).uniform(*flat.stock_coverage, s.n_skus)
    return np.maximum(np.rint(coverage * expected), flat.min_initial_stock).astype(np.int64)


def run_sale(config: ScenarioConfig, discounts: Mapping[str, float], reorders: Mapping[str, int]) -> Ledger:
    """The sale with these opening discounts and reorders placed at the opening, then left alone."""
    market = FlashSaleMarket(config)
    market.initial_events()
    for sku in market.skus:
        if sku in discounts:
            market.apply_discount(sku, discounts[sku])
        if reorders.get(sku, 0) > 0:
            market.apply_restock(sku, reorders[sku])
    market.step(config.duration_minutes)
    return market.ledger()


@dataclass(frozen=True)
class StreamRecord:
    """A record the stream would publish: topic, key, value and its Kafka timestamp (epoch seconds)."""

    topic: str
    key: str
    value: dict[str, Any]
    ts: float


def stream_history(
    config: ScenarioConfig, policy: SkuPolicy | None = None
) -> tuple[list[StreamRecord], Ledger]:
    """The sale of ``config`` run closed-loop by the pipeline's per-SKU maths (decisions act a minute
    later, as through Kafka), as the stream would keep it: the ``catalog`` events and, whenever a SKU's
    bucket closes, its ``sku-status`` stamped with the watermark (the minute's end); and the ledger."""
    market = FlashSaleMarket(config)
    adaptive = AdaptivePolicy(policy or SkuPolicy(), lag_minutes=1)
    events = market.initial_events()
    out: list[StreamRecord] = []
    while True:
        now = market.now
        out += [
            StreamRecord(t, k, v, timestamp_ms(SimEvent(t, k, v)) / 1000)
            for t, k, v in events
            if t == "catalog"
        ]
        closed = {sku: state.closed_buckets for sku, state in adaptive.states.items()}
        decisions = adaptive(events, now)
        for sku, state in sorted(adaptive.states.items()):
            if state.closed_buckets != closed.get(sku, 0):
                out.append(StreamRecord("sku-status", sku, state.status(), now.timestamp()))
        apply_decisions(market, decisions, now)
        if market.done:
            return out, market.ledger()
        events = market.step(1)
