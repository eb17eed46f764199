"""The in-process twin of a closed loop: the same market and lists give the same run."""

from __future__ import annotations

from models.policy.sku_state import SkuPolicy
from models.sim.evaluation import AdaptivePolicy
from models.sim.market import FlashSaleMarket, ScenarioConfig
from models.sim.policies import apply_decisions
from models.sim.twin import run_twin

TINY = ScenarioConfig(
    seed=4, n_users=120, n_skus=6, duration_minutes=24, campaign_offset_minutes=6, campaign_minutes=12,
    sessions_per_minute=30.0, restock_lead_minutes=3,
)  # fmt: skip


def test_the_twin_replays_a_run_whose_lists_acted_on_shoppers() -> None:
    market, adaptive = FlashSaleMarket(TINY), AdaptivePolicy(SkuPolicy(), lag_minutes=1)
    applied: dict = {}
    events = market.initial_events()
    while True:  # a closed loop of our own: each viewer is shown the SKUs it did not view, late
        apply_decisions(market, adaptive(events, market.now), market.now)
        for e in events:
            if e.topic == "clicks" and e.value["action"] == "view":
                skus = tuple(s for s in market.skus if s != e.value["sku"])[:3]
                market.apply_recommendations(e.key, list(skus), market.now)
                applied.setdefault(market.minute, []).append((e.key, skus, market.now))
        if market.done:
            break
        events = market.step(1)
    original = market.ledger()
    assert original.recommended_sessions > 0
    assert run_twin(TINY, SkuPolicy(), applied).summary() == original.summary()
    assert run_twin(TINY, SkuPolicy(), {}).recommended_sessions == 0
