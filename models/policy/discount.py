"""Live discount policy: keep a campaign on course to sell its stock out right at its end.

:class:`PriceResponse` learns how demand reacts to the discount (``log1p(units) = a + b * discount``,
Bayesian least squares with a prior on ``b`` so it acts sensibly from the first bucket).
:func:`discount_decision` projects units until the end at the current discount and moves the discount
by at most one step when the stock would be left over or sell out early.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from models.ids import to_epoch


@dataclass
class PriceResponse:
    """Online Bayesian fit of ``log1p(units per bucket) = a + b * discount``.

    Each update first pulls the posterior a little back towards the prior (``forget``), so the fit
    follows drift and ``b`` stays identified while the discount does not move.

    Examples
    --------
    >>> pr = PriceResponse(prior_elasticity=3.0)
    >>> for d, units in [(0.1, 5), (0.3, 9)] * 50:
    ...     pr.learn_one(d, units)
    >>> 2.0 < pr.elasticity < 3.5, round(pr.predict_one(0.3))
    (True, 9)
    """

    prior_elasticity: float = 3.0  # +10 points of discount -> demand x e^0.3 ~ +35%
    prior_elasticity_sd: float = 1.5
    prior_level_sd: float = 30.0  # the level (a) is left to the data
    noise_var: float = 0.25  # of log1p(units)
    forget: float = 0.98  # per update: ~50 buckets of memory
    min_elasticity: float = 0.1  # a learnt b below this (noise) is not trusted for decisions
    p00: float = 0.0  # posterior precision (symmetric 2x2) and natural mean; 0 = prior only
    p01: float = 0.0
    p11: float = 0.0
    e0: float = 0.0
    e1: float = 0.0
    n_seen: int = 0

    def _posterior(self) -> tuple[float, float]:
        pa, pb = self.prior_level_sd**-2, self.prior_elasticity_sd**-2
        p00, p01, p11 = self.p00 + pa, self.p01, self.p11 + pb
        e0, e1 = self.e0, self.e1 + pb * self.prior_elasticity
        det = p00 * p11 - p01 * p01
        return (p11 * e0 - p01 * e1) / det, (p00 * e1 - p01 * e0) / det

    def learn_one(self, discount: float, units: float) -> None:
        """Learn the units sold in one bucket at ``discount``."""
        z, s = math.log1p(max(units, 0.0)), 1.0 / self.noise_var
        f = self.forget  # the data part decays; the prior (added in _posterior) never does
        self.p00, self.p01, self.p11 = (
            f * self.p00 + s,
            f * self.p01 + s * discount,
            f * self.p11 + s * discount**2,
        )
        self.e0, self.e1 = f * self.e0 + s * z, f * self.e1 + s * z * discount
        self.n_seen += 1

    @property
    def elasticity(self) -> float:
        """``b``: d log(demand) / d discount, floored at ``min_elasticity``."""
        return max(self._posterior()[1], self.min_elasticity)

    def predict_one(self, discount: float) -> float:
        """Expected units per bucket at ``discount`` (log-scale mean)."""
        a, b = self._posterior()
        return max(math.expm1(a + b * discount), 0.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PriceResponse:
        return cls(**d)


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
    """(units until the end, seconds until sell-out or None) from a per-bucket forecast."""
    n_full, frac = divmod(remaining_s / bucket_s, 1.0)
    path = list(expected_units)[: int(n_full) + 1] or [0.0]
    path += [path[-1]] * (int(n_full) + 1 - len(path))  # a short forecast: hold the last rate
    total, sellout = 0.0, None
    for i, u in enumerate(path):
        share = frac if i == int(n_full) else 1.0
        if sellout is None and u > 0 and total + u * share >= stock:
            sellout = (i + (stock - total) / u) * bucket_s
        total += u * share
    return total, sellout


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
    price_response: PriceResponse,
    *,
    bucket_seconds: int = 60,
    target_sell_through: float = 0.95,
    early_margin: timedelta = timedelta(minutes=10),
    grain: float = 0.01,
) -> DiscountDecision | None:
    """New discount for the campaign, or ``None`` when it should stay.

    ``expected_units`` is the forecast per bucket from ``now_ts`` on at the current discount. Below
    ``target_sell_through`` the discount deepens; when stock would run out more than ``early_margin``
    before ``ends_at`` it is reduced; each move aims at selling out at the end, is at most
    ``max_step``, rounded towards the current value on ``grain`` and clamped to [min, max].
    """
    now, end = to_epoch(now_ts), to_epoch(ends_at)
    if now >= end or remaining_stock <= 0:
        return None
    if last_change_ts is not None and now < to_epoch(last_change_ts) + cooldown.total_seconds():
        return None
    projected, sellout_s = _projection(expected_units, end - now, bucket_seconds, remaining_stock)
    ratio = projected / remaining_stock
    b = price_response.elasticity
    early = sellout_s is not None and now + sellout_s < end - early_margin.total_seconds()
    if early:  # demand x m sells exactly the stock by the end
        step = max(math.log(remaining_stock / projected) / b, -max_step)
        new = math.ceil((current_discount + step) / grain - 1e-9) * grain
        why = f"stock would sell out {(end - now - (sellout_s or 0)) / 60:.0f} min before the end"
    elif ratio < target_sell_through:
        step = min(math.log(1.0 / ratio) / b, max_step) if projected > 0 else max_step
        new = math.floor((current_discount + step) / grain + 1e-9) * grain
        why = f"projected sell-through {ratio:.0%} is below the {target_sell_through:.0%} target"
    else:
        return None
    new = round(min(max(new, min_discount), max_discount), 6)
    if abs(new - current_discount) < grain / 2:
        return None
    units = projected * math.exp(b * (new - current_discount))
    st = min(units / remaining_stock, 1.0)
    reason = (
        f"{why} ({projected:.0f} units projected for {remaining_stock:g} in stock at {current_discount:.0%} "
        f"off); {'deepening' if new > current_discount else 'reducing'} the discount to {new:.0%} "
        f"(elasticity {b:.2f}) projects {st:.0%} sell-through"
    )
    return DiscountDecision(current_discount, new, st, units, reason)
