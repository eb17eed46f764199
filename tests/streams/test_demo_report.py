"""The demo's printed report: four pricing rows in process, the many-seed block, and the closed loop
only beside its own in-process twin."""

from __future__ import annotations

from dataclasses import replace

from models.policy.sku_state import SkuPolicy
from models.sim.compare import compare_seeds, second_market_of
from models.sim.evaluation import evaluate, policy_metrics
from models.sim.market import ScenarioConfig
from models.sim.twin import run_twin
from streams.tools.demo_report import format_report

TINY = ScenarioConfig(
    seed=3, n_users=120, n_skus=5, duration_minutes=24, campaign_offset_minutes=6, campaign_minutes=12,
    sessions_per_minute=30.0, restock_lead_minutes=3,
)  # fmt: skip


def test_the_report_keeps_the_closed_loop_apart_from_the_in_process_rows() -> None:
    report = evaluate(TINY, SkuPolicy()).report
    twin = run_twin(TINY, SkuPolicy(), {})

    def market(seed: int) -> ScenarioConfig:
        return replace(TINY, seed=seed)

    report["many_seeds"] = compare_seeds(
        [1, 2], SkuPolicy(), market, lambda seed: second_market_of(market(seed)), lists=False
    )
    decisions = {"restock_events": 1, "discount_adjustments": 2}
    stream = {
        "namespace": "demo_x", "wall_s": 1.0, "decisions_on_topics": decisions, "rows_in_postgres": decisions,
        "missing_in_postgres": 0, "duplicate_rows": 0, "due_decisions": 3, "missed_the_wait": 0,
        "applied_late": 0, "same_decisions_as_in_process": True, "decisions_only_in_stream": 0,
        "decisions_only_in_process": 0, "last_minute_decisions": 0, "closed_loop": policy_metrics(twin),
        "in_process_twin": policy_metrics(twin), "same_run_as_twin": True, "holdout_share": 0.5,
        "recommendation_lists": 0, "hit_rate_at_10": None, "popularity_hit_rate_at_10": 0.1,
        "novel_hit_rate_at_10": None, "popularity_novel_hit_rate_at_10": 0.05, "novel_orders": 0,
        "twin": {"hit_rate_at_10": 0.0, "novel_hit_rate_at_10": 0.0, "lists": 0}, "lists_on_both": 0,
        "same_lists_as_twin": 0, "twin_overlap_at_10": None,
    }  # fmt: skip
    text = format_report({**report, "stream": stream})
    lines = text.splitlines()
    pricing = lines[: lines.index(next(line for line in lines if line.startswith("adaptive ÷")))]
    assert "static at the campaign discount (30%)" in text and "clairvoyant plan (knows true demand)" in text
    assert f"best static in hindsight ({report['best_static_discount']:.0%})" in text
    assert not any("closed loop" in line for line in pricing)  # never a row among the in-process ones
    loop = lines.index(next(line for line in lines if line.startswith("closed loop through Kafka")))
    assert lines[loop + 3].startswith("closed loop (Kafka)") and lines[loop + 4].startswith("in-process twin")
    assert "second market (saturating): adaptive ÷ best static" in text
    assert "50% of the campaign's SKUs held out on the static policy in both" in lines[loop]
