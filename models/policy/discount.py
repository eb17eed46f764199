"""Live discount policy: keep a campaign on course to sell its stock out right at its end, at a price
that earns more than a deeper one would.

:func:`discount_decision` projects units until the end at the current discount (from
:class:`models.policy.campaign_demand.CampaignDemand`) and moves the discount by at most one step when
the stock would be left over or sell out early, never deeper than the *ceiling* where demand stops
paying for it: with demand ``∝ e^(b d)``, revenue ``∝ (1 - d) e^(b d)`` grows with the discount only
while ``b (1 - d) > 1``, so the ceiling is ``1 - 1/b``. It is judged on an optimistic ``b`` (the
estimate plus ``revenue_guard_z`` standard deviations), so only confident evidence that demand has
stopped answering the discount holds it back, or, above the ceiling, brings it down.

>>> from datetime import UTC
>>> now = datetime(2026, 11, 11, 12, tzinfo=UTC)
>>> def decide(elasticity, sd):
...     d = discount_decision(0.5, 0.1, 0.6, 0.1, timedelta(minutes=2), None, now, 300.0,
...                           now + timedelta(minutes=60), [2.0] * 60, elasticity, sd,
...                           revenue_guard_z=1.0)
...     return d and d.new_discount
>>> decide(3.0, 0.5)  # 120 of 300 units would sell: deepen, demand answers the discount
0.6
>>> decide(1.2, 0.2)  # it hardly does: 1.4 × (1 - 0.5) < 1, a shallower discount earns more
0.4
>>> decide(1.2, 1.0)  # unless that reading is too uncertain to act on: deepen, up to the ceiling
0.54
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.ids import to_epoch

MIN_ELASTICITY = 0.1  # a learnt elasticity below this is noise, not a reason to move


@dataclass(frozen=True)
class DiscountDecision:
    old_discount: float
    new_discount: float
    projected_sell_through: float  # at the new discount, capped at 1
    projected_units: float  # until ends_at, at the new discount
    reason: str


def _projection(
    expected_units: Sequence[float], remaining_s: float, bucket_s: int, stock: float
) -> tuple[float, float | None]:
    """(units until the end, seconds until sell-out or None) from a per-bucket forecast (units never
    negative) and the stock (positive): the last bucket counts for the share of it left."""
    n_full, frac = divmod(remaining_s / bucket_s, 1.0)
    n = int(n_full)
    path = list(expected_units)[: n + 1] or [0.0]
    path += [path[-1]] * (n + 1 - len(path))  # a short forecast: hold the last rate
    if min(path) < 0 or stock <= 0:
        raise ValueError("expected units must not be negative, and the stock must be positive")
    # Units sold before each bucket (totals[i]) and after the last; nondecreasing, so the bucket that
    # sells out is found by bisection (a bucket of no demand never takes the total past the stock).
    totals = list(itertools.accumulate([*path[:n], path[n] * frac], initial=0.0))
    i = bisect.bisect_left(totals, stock, lo=1) - 1
    sellout = (i + (stock - totals[i]) / path[i]) * bucket_s if i <= n else None
    return totals[-1], sellout


def discount_decision(
    current_discount: float,
    min_discount: float,
    max_discount: float,
    max_step: float,
    cooldown: timedelta,
    last_change_ts: datetime | None,
    now_ts: datetime,
    remaining_stock: float,
    ends_at: datetime,
    expected_units: Sequence[float],
    elasticity: float,
    elasticity_sd: float = 0.0,
    *,
    bucket_seconds: int = 60,
    target_sell_through: float = 0.95,
    early_margin: timedelta = timedelta(minutes=10),
    grain: float = 0.01,
    revenue_guard_z: float | None = 0.25,
    min_move: float = 0.02,
    ceiling_band: float = 0.05,
) -> DiscountDecision | None:
    """New discount for the campaign, or ``None`` when it should stay.

    ``expected_units`` is the forecast per bucket from ``now_ts`` on at the current discount and
    ``elasticity`` (± ``elasticity_sd``) is d log(demand) / d discount. When stock would run out more
    than ``early_margin`` before ``ends_at`` the discount is reduced; below ``target_sell_through`` it
    deepens, but never past the *ceiling* (see the module); above the ceiling it comes back down. The
    ceiling uses an elasticity ``revenue_guard_z`` standard deviations above the estimate (None: no
    ceiling). Each move aims at selling out at the end, is at most ``max_step``, rounded towards the
    current value on ``grain`` and clamped to [min, max].
    """
    now, end = to_epoch(now_ts), to_epoch(ends_at)
    if now >= end or remaining_stock <= 0:
        return None
    if last_change_ts is not None and now < to_epoch(last_change_ts) + cooldown.total_seconds():
        return None
    projected, sellout_s = _projection(expected_units, end - now, bucket_seconds, remaining_stock)
    b = max(elasticity, MIN_ELASTICITY)
    optimistic = math.inf if revenue_guard_z is None else b + revenue_guard_z * max(elasticity_sd, 0.0)
    early_s = None if sellout_s is None else end - now - sellout_s  # sells out this long before the end
    move = _move(current_discount, projected / remaining_stock, early_s, early_margin.total_seconds(), b,
                 1.0 - 1.0 / optimistic, max_step, target_sell_through, grain, ceiling_band)  # fmt: skip
    if move is None:
        return None
    new, why = move
    new = round(min(max(new, min_discount), max_discount), 6)
    if abs(new - current_discount) < max(min_move, grain / 2) - 1e-9:
        return None  # too small to be worth a change a shopper sees
    units = projected * math.exp(b * (new - current_discount))
    st = min(units / remaining_stock, 1.0)
    reason = (
        f"{why} ({projected:.0f} units projected for {remaining_stock:g} in stock at {current_discount:.0%} "
        f"off); {'deepening' if new > current_discount else 'reducing'} the discount to {new:.0%} "
        f"(elasticity {b:.2f} ± {elasticity_sd:.2f}) projects {st:.0%} sell-through"
    )
    return DiscountDecision(current_discount, new, st, units, reason)


def _move(
    current: float,
    ratio: float,
    early_s: float | None,
    margin_s: float,
    b: float,
    ceiling: float,
    max_step: float,
    target: float,
    grain: float,
    band: float,
) -> tuple[float, str] | None:
    """The new discount (before clamping) and why: ``ratio`` is projected units over stock,
    ``early_s`` how long before the end the stock would sell out (None: it would not)."""
    if early_s is not None and early_s > margin_s:  # demand x m sells exactly the stock by the end
        step = max(-math.log(ratio) / b, -max_step)
        new = math.ceil((current + step) / grain - 1e-9) * grain
        return new, f"stock would sell out {early_s / 60:.0f} min before the end"
    if ratio < target and current < ceiling:
        step = min(math.log(1.0 / ratio) / b, max_step) if ratio > 0 else max_step
        new = math.floor(min(current + step, ceiling) / grain + 1e-9) * grain
        return new, f"projected sell-through {ratio:.0%} is below the {target:.0%} target"
    if current > ceiling + band:  # a band around the ceiling: no back and forth as its estimate moves
        new = math.ceil(max(ceiling, current - max_step) / grain - 1e-9) * grain
        return new, "demand hardly answers the discount: a shallower one earns more"
    return None
