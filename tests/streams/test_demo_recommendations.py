"""The demo's recommendation block for the stream: the lists published through Kafka, scored on the
closed loop's own orders beside the in-process twin on the same events and beside popularity."""

from __future__ import annotations

from models.sim.evaluation import evaluate, policy_metrics
from models.sim.market import FlashSaleMarket, ScenarioConfig
from models.sim.recommendation_evaluation import ShadowRecommender
from streams.settings import Settings
from streams.tools.demo import stream_recommendations
from streams.tools.demo_report import format_report
from streams.tools.simulate import SimulationRun

SMALL = ScenarioConfig(
    seed=5, n_users=60, n_skus=24, duration_minutes=20, campaign_offset_minutes=2, campaign_minutes=16,
    sessions_per_minute=15.0, restock_lead_minutes=3,
)  # fmt: skip


def published_like_the_twin() -> tuple[SimulationRun, ShadowRecommender]:
    """A run whose published lists are exactly the twin's (what a stream in step with it publishes)."""
    market, twin = FlashSaleMarket(SMALL), ShadowRecommender()
    steps = [market.initial_events(), *(market.step(1) for _ in range(SMALL.duration_minutes))]
    for events in steps:
        twin.observe(events)
    run = SimulationRun(ledger=market.ledger(), shown=list(twin.shown), lists=dict(twin.lists), steps=steps)
    run.orders = list(twin.orders)
    return run, twin


def test_lists_the_stream_published_are_scored_beside_the_twin_and_popularity() -> None:
    run, twin = published_like_the_twin()
    block = stream_recommendations(Settings(), run, 10)
    assert block["recommendation_lists"] == len(twin.shown) == block["twin"]["lists"] > 50
    assert block["same_lists_as_twin"] == block["lists_on_both"] == len(twin.lists)
    assert block["twin_overlap_at_10"] == sum(len(lists) for lists in twin.lists.values()) / 10 / len(
        twin.lists
    )
    assert block["novel_hit_rate_at_10"] == block["twin"]["novel_hit_rate_at_10"] > 0
    assert 0 < block["popularity_novel_hit_rate_at_10"] < 1 and block["novel_orders"] > 0
    run.lists = {key: lists[::-1] for key, lists in run.lists.items()}  # another order: no longer the same
    run.shown = [(t, user, ()) for t, user, _ in run.shown]  # and nothing on them
    block = stream_recommendations(Settings(), run, 10)
    assert block["novel_hit_rate_at_10"] == 0 < block["twin"]["novel_hit_rate_at_10"]
    assert block["same_lists_as_twin"] == sum(len(lists) < 2 for lists in twin.lists.values())
    assert block["twin_overlap_at_10"] == sum(len(lists) for lists in twin.lists.values()) / 10 / len(
        twin.lists
    )


def test_the_report_prints_the_novel_items_through_kafka() -> None:
    run, _ = published_like_the_twin()
    decisions = {"restock_events": 1, "discount_adjustments": 2}
    stream = {
        "namespace": "demo_x", "wall_s": 12.0, "decisions_on_topics": decisions,
        "rows_in_postgres": decisions, "missing_in_postgres": 0, "duplicate_rows": 0,
        "same_decisions_as_in_process": True, "decisions_only_in_stream": 0, "decisions_only_in_process": 0,
        "last_minute_decisions": 0, "missed_the_wait": 0, "due_decisions": 3, "applied_late": 0,
        "closed_loop": policy_metrics(run.ledger), "in_process_twin": policy_metrics(run.ledger),
        "same_run_as_twin": True, "holdout_share": 0.0, **stream_recommendations(Settings(), run, 10),
    }  # fmt: skip
    text = format_report({**evaluate(SMALL).report, "stream": stream})
    ours, popular = stream["novel_hit_rate_at_10"], stream["popularity_novel_hit_rate_at_10"]
    assert f"novel items {ours:.1%} vs popularity {popular:.1%}" in text
    assert f"of {len(run.lists)} lists made on the same event, {len(run.lists)} the same, " in text
