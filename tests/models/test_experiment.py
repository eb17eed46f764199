"""The holdout experiment's maths: the hash split, the control arm's policy, the uplift estimate, the
running tallies (order-free, copy-proof, restorable) and the simulator's truth."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.experiment.evaluation import evaluate_experiment, run_experiment
from models.experiment.tally import CampaignTally
from models.experiment.uplift import adjusted_uplift, strata, stratified_uplift
from models.policy.control import CONTROL, TREATMENT, BucketOutcome, holdout_arm
from models.policy.sku_state import SkuPolicy, SkuState
from models.sim.evaluation import AdaptivePolicy
from models.sim.market import ScenarioConfig
from models.sim.policies import run_policy, run_static

T0 = datetime(2026, 11, 11, 12, tzinfo=UTC)
SMALL = ScenarioConfig(n_users=200, n_skus=12, duration_minutes=40, campaign_offset_minutes=10,
                       campaign_minutes=20, sessions_per_minute=60.0)  # fmt: skip


def at(minutes: float) -> float:
    return (T0 + timedelta(minutes=minutes)).timestamp()


def campaign_event(campaign_id: str = "c1") -> dict:
    iso = lambda m: (T0 + timedelta(minutes=m)).isoformat()  # noqa: E731
    campaign = {"campaign_id": campaign_id, "starts_at": iso(0), "ends_at": iso(60), "discount": 0.2,
                "min_discount": 0.1, "max_discount": 0.5, "restock_lead_minutes": 10}  # fmt: skip
    return {"title": "t", "base_price": 10.0, "campaign": campaign}


def test_the_split_is_a_pure_function_and_a_larger_share_only_adds_control_skus() -> None:
    skus = [f"sku-{i}" for i in range(400)]
    small = {s for s in skus if holdout_arm("c1", s, 0.2) == CONTROL}
    large = {s for s in skus if holdout_arm("c1", s, 0.5) == CONTROL}
    assert small < large and 40 < len(small) < 120 and 150 < len(large) < 250
    assert {holdout_arm("c1", s, 0.0) for s in skus} == {TREATMENT}
    assert {holdout_arm("c1", s, 1.0) for s in skus} == {CONTROL}
    assert {s for s in skus if holdout_arm("c2", s, 0.5) == CONTROL} != large  # per campaign
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        holdout_arm("c1", "sku-1", 1.5)


def a_sku_in(arm: str) -> SkuState:
    share = 0.5
    sku = next(f"s{i}" for i in range(100) if holdout_arm("c1", f"s{i}", share) == arm)
    state = SkuState(sku, SkuPolicy(holdout_share=share))
    state.apply(campaign_event(), at(0))
    state.apply({"on_hand": 20, "inbound": 0}, at(0))
    return state


def test_a_control_sku_keeps_the_campaign_discount_and_reorders_by_the_naive_rule() -> None:
    control, treated = a_sku_in(CONTROL), a_sku_in(TREATMENT)
    kinds: dict[str, list[str]] = {CONTROL: [], TREATMENT: []}
    for minute in range(8):
        for arm, state in ((CONTROL, control), (TREATMENT, treated)):
            if minute < 6:  # 3 units a minute: on hand 17, 14, 11, 8, 5, 2
                state.apply({"order_id": f"o{minute}", "quantity": 3, "unit_price": 8.0}, at(minute + 0.5))
                state.apply({"on_hand": 17 - 3 * minute, "inbound": 0}, at(minute + 0.9))
            kinds[arm] += [d.kind for d in state.advance(at(minute + 1))]
    assert "discount" in kinds[TREATMENT] and "discount" not in kinds[CONTROL]
    assert control.discount == 0.2 and kinds[CONTROL] == ["restock"]  # once: its own order counts inbound
    restock = [d for d in control.advance(at(9))] or control.restocks
    assert restock == [(at(6), 10)]  # at on hand 2 ≤ 20% of 20: half the opening stock
    assert control.status()["holdout_arm"] == CONTROL and "holdout_arm" not in SkuState("x").status()


def test_the_control_arm_at_share_1_and_no_lag_is_the_static_baseline() -> None:
    held = run_policy(SMALL, AdaptivePolicy(SkuPolicy(holdout_share=1.0), lag_minutes=0))
    static = run_static(SMALL)
    assert np.array_equal(held.sold, static.sold) and held.revenue == static.revenue
    assert held.summary()["restocked_units"] == static.summary()["restocked_units"] > 0


def test_outcomes_are_logged_per_closed_bucket_only_while_a_holdout_runs() -> None:
    state = a_sku_in(TREATMENT)
    state.apply({"order_id": "o1", "quantity": 2, "unit_price": 8.0}, at(0.5))
    state.advance(at(2))
    first, second = state.outcomes
    assert (first.units, first.revenue, first.opening_stock, first.base_price) == (2.0, 16.0, 20, 10.0)
    assert (second.bucket - first.bucket, second.units, second.arm) == (60.0, 0.0, TREATMENT)
    plain = SkuState("s9")
    plain.apply(campaign_event(), at(0))
    plain.advance(at(3))
    assert plain.outcomes == [] and plain.arm is None


def test_the_adjusted_estimate_finds_an_additive_effect_that_the_size_mix_hides() -> None:
    rng = np.random.default_rng(3)
    size = rng.lognormal(2.0, 1.0, 60)  # best-sellers and long tail
    treated = rng.random(60) < 0.5
    y = 2.0 * size + 5.0 * treated + rng.normal(0, 1.0, 60)
    adjusted = adjusted_uplift(y, treated, size[:, None])
    plain = adjusted_uplift(y, treated, np.zeros((60, 0)))
    assert adjusted is not None and plain is not None
    assert adjusted.covers(5.0) and adjusted.hi - adjusted.lo < 0.2 * (plain.hi - plain.lo)
    assert adjusted.covariates == 1 and plain.covariates == 0


def test_no_covariates_is_the_difference_of_means_with_conservative_variances() -> None:
    y, treated = [1.0, 2.0, 4.0, 1.0, 1.5, 2.0], [True, True, True, False, False, False]
    u = adjusted_uplift(y, treated, [[]] * 6)
    assert u is not None
    a, b = np.array(y[:3]), np.array(y[3:])
    assert u.uplift == pytest.approx(a.mean() - b.mean())
    assert u.se == pytest.approx(np.sqrt(a.var(ddof=1) / 2 + b.var(ddof=1) / 2))  # s²/(n−1) per arm
    assert u.df == 4 and u.control == pytest.approx(b.mean()) and u.baseline == pytest.approx(b.mean())


def test_too_few_skus_give_no_estimate_and_useless_covariates_are_dropped() -> None:
    assert adjusted_uplift([1.0, 2.0, 3.0], [True, False, True], [[1.0]] * 3) is None
    y = [float(i) for i in range(12)]
    treated = [i % 2 == 0 for i in range(12)]
    flat = adjusted_uplift(y, treated, [[7.0, float(i), float("nan")] for i in range(12)])
    assert flat is not None and flat.covariates == 1  # constant and unknown columns are left out


def outcomes(n_skus: int = 12, minutes: int = 8, seed: int = 0) -> list[BucketOutcome]:
    rng = random.Random(seed)
    out = []
    for i in range(n_skus):
        arm = TREATMENT if i % 2 else CONTROL
        for m in range(minutes):  # the campaign starts at minute 3
            units = float(rng.randint(0, 4 + i) + (2 if arm == TREATMENT and m >= 3 else 0))
            out.append(BucketOutcome("c1", 180.0, 600.0, f"s{i:02d}", arm, 60.0 * m, units, 9.5 * units,
                                     10 + 3 * i, 9.5))  # fmt: skip
    return out


def estimates_of(tally: CampaignTally, given: list[BucketOutcome], closes: list[float]) -> list:
    found = []
    for i, until in enumerate(closes):
        for outcome in given[i * len(given) // len(closes) : (i + 1) * len(given) // len(closes)]:
            tally.observe(outcome)
        found += tally.close(until)
    return found


def test_estimates_do_not_depend_on_arrival_order_nor_on_how_far_each_close_reaches() -> None:
    given = outcomes()
    in_order = estimates_of(CampaignTally("c1"), sorted(given, key=lambda o: o.bucket), [480.0])
    shuffled = given[:]
    random.Random(5).shuffle(shuffled)
    # A close only ever claims what is complete: here everything is given before the first close.
    stepwise = CampaignTally("c1")
    for outcome in shuffled:
        stepwise.observe(outcome)
    found = [e for until in (200.0, 240.0, 241.0, 400.0, 480.0) for e in stepwise.close(until)]
    assert found == in_order and [e.minutes for e in found] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert found[-1].n_treatment == found[-1].n_control == 6


def test_copies_and_late_outcomes_change_nothing() -> None:
    given = sorted(outcomes(), key=lambda o: o.bucket)
    once = estimates_of(CampaignTally("c1"), given, [300.0, 480.0])
    tally = CampaignTally("c1")
    twice = estimates_of(tally, [o for o in given for _ in range(2)], [300.0, 480.0])
    assert twice == once
    late = replace(given[0], bucket=240.0, units=99.0)  # a bucket already closed
    assert not tally.observe(late) and tally.close(480.0) == []


def test_a_restored_tally_goes_on_as_if_never_stopped() -> None:
    given = sorted(outcomes(), key=lambda o: o.bucket)
    whole = estimates_of(CampaignTally("c1"), given, [300.0, 480.0])
    first = CampaignTally("c1")
    head = estimates_of(first, given[: len(given) // 2], [300.0])
    back = CampaignTally.from_state(first.to_state())
    assert back.to_state() == first.to_state()
    assert head + estimates_of(back, given[len(given) // 2 :], [480.0]) == whole


def test_the_truth_comes_from_the_same_market_with_every_sku_static() -> None:
    run = run_experiment(SMALL, SkuPolicy(holdout_share=0.5))
    assert run.control_identical  # control SKUs are untouched by the treated ones' policy
    assert {TREATMENT, CONTROL} <= set(run.arms.values())
    assert len(run.estimates) == len(run.truth) == SMALL.campaign_minutes
    assert [t.ts for t in run.truth] == [e.ts for e in run.estimates]
    assert run.revenue["ours"] != run.revenue["static"]  # the treated SKUs' policy made a difference


def test_the_evaluation_counts_seeds_whose_intervals_cover_the_truth() -> None:
    report = evaluate_experiment([1, 2], lambda seed: replace(SMALL, seed=seed), SkuPolicy(holdout_share=0.5))
    rows = report["estimate_vs_truth"]
    assert report["seeds"] == 2 and [r["seed"] for r in rows] == [1, 2]
    for row in rows:
        for metric in ("revenue", "units"):
            m = row[metric]
            assert m["covered"] == (m["lo"] <= m["truth"] <= m["hi"])
    assert report["covered"] == sum(r["revenue"]["covered"] and r["units"]["covered"] for r in rows)
    assert set(report["estimators"]) == {"adjusted", "stratified", "plain"}
    adjusted = report["estimators"]["adjusted"]["revenue"]
    assert adjusted["covered"] == report["covered_revenue"] and adjusted["seeds"] == 2


def test_strata_hold_both_arms_and_a_short_remainder_joins_the_last_one() -> None:
    treated = [True, False, True, False, True, False, True]
    found = strata([float(i) for i in range(7)], treated, min_per_arm=1)
    assert found == [0, 0, 1, 1, 2, 2, 2]  # the seventh SKU alone would lack a control
    for h in set(found):
        assert {treated[i] for i in range(7) if found[i] == h} == {True, False}


def test_the_stratified_alternative_finds_the_effect_with_a_wider_interval() -> None:
    rng = np.random.default_rng(4)
    size = rng.lognormal(2.0, 1.0, 80)
    treated = rng.random(80) < 0.5
    y = 2.0 * size + 5.0 * treated + rng.normal(0, 1.0, 80)
    layered = stratified_uplift(y, treated, size)
    adjusted = adjusted_uplift(y, treated, size[:, None])
    assert layered is not None and adjusted is not None and layered.covers(5.0)
    assert layered.hi - layered.lo > adjusted.hi - adjusted.lo  # a linear size effect: the line wins
    assert stratified_uplift(y[:4], treated[:4], size[:4]) is None
