"""The in-process twin of a closed-loop run through Kafka: the same market, the same recommendations.

In the closed loop the pipeline's recommendation lists act on shoppers, so its revenue is comparable
neither with the in-process policies (no list acts there) nor with the clairvoyant plan. Its fair
reference is its twin: the in-process adaptive policy (:class:`~models.sim.evaluation.AdaptivePolicy`,
decisions one minute late as through Kafka) in a market built from the same config, shown the very
lists the closed loop applied, at the same minutes and in the same order. When every pricing decision
came through Kafka in time, twin and closed loop are the same run, to the cent.

>>> from models.sim.market import ScenarioConfig
>>> from models.policy.sku_state import SkuPolicy
>>> config = ScenarioConfig(n_users=60, n_skus=5, duration_minutes=20, campaign_offset_minutes=5,
...                         campaign_minutes=10, restock_lead_minutes=2)
>>> market = FlashSaleMarket(config)
>>> lists = {6: [(user, tuple(market.skus[:2]), config.minute_start(6)) for user in market.user_ids]}
>>> run_twin(config, SkuPolicy(), lists).recommended_sessions > 0  # the lists act on shoppers
True
>>> run_twin(config, SkuPolicy(), {}).recommended_sessions  # none applied: the in-process adaptive run
0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from models.policy.sku_state import SkuPolicy
from models.sim.evaluation import AdaptivePolicy
from models.sim.ledger import Ledger
from models.sim.market import FlashSaleMarket, ScenarioConfig
from models.sim.policies import apply_decisions

# Per market minute at which the closed loop applied them: (user, ranked skus, the list's event time).
AppliedLists = Mapping[int, Sequence[tuple[str, tuple[str, ...], datetime]]]


def run_twin(config: ScenarioConfig, policy: SkuPolicy, lists: AppliedLists, lag_minutes: int = 1) -> Ledger:
    """The in-process adaptive run in the market of ``config``, with ``lists`` applied as recorded."""
    market = FlashSaleMarket(config)
    adaptive = AdaptivePolicy(policy, lag_minutes)
    events = market.initial_events()
    while True:
        apply_decisions(market, adaptive(events, market.now), market.now)
        for user, skus, ts in lists.get(market.minute, ()):
            market.apply_recommendations(user, list(skus), ts)
        if market.done:
            return market.ledger()
        events = market.step(1)
