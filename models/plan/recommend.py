"""The plan for a coming sale: a window (start, duration) per category, an opening discount and a
starting stock per SKU, each with expected units and revenue and a predictive interval.

For every candidate window the demand model (:mod:`models.plan.demand`) gives each SKU's expected
units at full price (everyday traffic × the sale's learnt lift); per SKU the opening discount and the
reorder follow the clairvoyant plan's rule (:func:`models.sim.baselines.clairvoyant_plan`) on that *learnt*
demand: the discount on the campaign's grid with the highest expected revenue, selling
min(demand, stock) minute by minute, with one reorder placed at the opening (arriving after the lead
time, at most ``restock_capacity`` × the stock now) that covers the expected units plus ``safety_z``
Poisson standard deviations. A category's window is the start with the highest expected revenue of its
SKUs (where stock sells out in several, the one where most units are wanted); of the durations
offered, the shortest within ``duration_tolerance`` of the best. Intervals come
from draws (:mod:`models.plan.draws`): the model's parameter uncertainty (category and SKU) and
over-dispersed Poisson units.

>>> sold = fluid_units(np.array([[4.0]]), np.array([[6.0]]), np.array([5.0]), np.array([[3.0]]))
>>> sold.tolist()  # 4 of 5 before the reorder lands; then 6 wanted, 1 + 3 left
[[8.0]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from models.ids import from_epoch
from models.plan.demand import DemandModel
from models.plan.draws import lognormal, negative_binomial, parameter_uncertainty
from models.plan.history import Terms

DAY_MINUTES = 1440


@dataclass(frozen=True)
class PlanOptions:
    """Knobs of :func:`plan_sale`."""

    durations: tuple[int, ...] = (60, 120, 180)
    start_step_minutes: int = 15
    duration_tolerance: float = 0.05
    safety_z: float = 1.0
    restock_capacity: float = 1.0
    grid_points: int = 11
    level: float = 0.9
    draws: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class Estimate:
    """An expectation with its central predictive interval at the plan's level."""

    expected: float
    lo: float
    hi: float

    @classmethod
    def of(cls, draws: np.ndarray, level: float) -> Estimate:
        tail = (1.0 - level) / 2.0
        lo, hi = np.quantile(draws, [tail, 1.0 - tail])
        return cls(float(np.mean(draws)), float(lo), float(hi))


@dataclass(frozen=True)
class SkuPlan:
    sku: str
    category: str
    discount: float
    stock_now: int
    reorder: int
    starting_stock: int
    elasticity: float
    elasticity_se: float
    units: Estimate
    revenue: Estimate


@dataclass(frozen=True)
class CategoryPlan:
    category: str
    start: datetime
    minutes: int
    units: Estimate
    revenue: Estimate
    skus: tuple[str, ...]
    by_start: np.ndarray = field(repr=False)  # expected revenue (fluid) of each start on the day's grid


@dataclass(frozen=True)
class Plan:
    day: datetime
    categories: tuple[CategoryPlan, ...]
    skus: tuple[SkuPlan, ...]
    terms: Terms
    options: PlanOptions

    def category(self, name: str) -> CategoryPlan:
        return next(c for c in self.categories if c.category == name)


def fluid_units(first: np.ndarray, rest: np.ndarray, stock: np.ndarray, reorder: np.ndarray) -> np.ndarray:
    """Units sold if sales are min(demand, stock left): ``first`` wanted before the reorder lands,
    ``rest`` after; arrays are SKUs × anything, ``stock`` one per SKU."""
    s = stock[:, None]
    early = np.minimum(first, s)
    return early + np.minimum(rest, s - early + reorder)


def phase_demand(
    model: DemandModel, day_start: float, minutes: int, step: int, lead: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start offsets (minutes into the day) and, per SKU × start, the units wanted at full price before
    and after a reorder placed at the opening lands (``lead`` minutes in)."""
    times = day_start + 60.0 * np.arange(DAY_MINUTES + minutes) + 30.0
    base = model.base_rate(times)
    lift = model.sale_lift(minutes)
    starts = np.arange(0, DAY_MINUTES, step)
    first = np.zeros((base.shape[0], starts.size))
    rest = np.zeros_like(first)
    for k in range(minutes):
        (first if k < lead else rest)[:] += lift[k] * base[:, starts + k]
    return starts, first, rest


def best_discounts(
    first: np.ndarray,
    rest: np.ndarray,
    model: DemandModel,
    stock: np.ndarray,
    terms: Terms,
    options: PlanOptions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per SKU × start: the best expected revenue, its discount and its reorder (the clairvoyant
    plan's rule on the model's demand; ties keep the shallower discount)."""
    price = np.array([s.base_price for s in model.skus])[:, None]
    capacity = np.floor(options.restock_capacity * stock)[:, None]
    best = np.full(first.shape, -1.0)
    discount, reorder = np.zeros(first.shape), np.zeros(first.shape)
    for d in terms.grid(options.grid_points):
        factor = model.price_factor(d)[:, None]
        total = (first + rest) * factor
        need = np.ceil(total + options.safety_z * np.sqrt(total)) - stock[:, None]
        q = np.clip(need, 0.0, capacity)
        revenue = fluid_units(first * factor, rest * factor, stock.astype(float), q) * price * (1.0 - d)
        better = revenue > best + 1e-9
        best = np.where(better, revenue, best)
        discount = np.where(better, d, discount)
        reorder = np.where(better, q, reorder)
    return best, discount, reorder


@dataclass(frozen=True)
class _Choice:
    start: int  # minutes into the day
    minutes: int
    by_start: np.ndarray
    first: np.ndarray  # per SKU of the category, at full price
    rest: np.ndarray
    discount: np.ndarray
    reorder: np.ndarray


@dataclass(frozen=True)
class _Scored:
    """Every start of one duration: per SKU × start what it wants and its best discount and reorder;
    per category × start the expected revenue."""

    minutes: int
    starts: np.ndarray
    first: np.ndarray
    rest: np.ndarray
    discount: np.ndarray
    reorder: np.ndarray
    by_category: np.ndarray
    wanted: np.ndarray  # categories × starts: units wanted at full price

    def best_start(self, c: int, tie: float = 1e-3) -> int:
        """Index of category ``c``'s best start: the most expected revenue; among starts within ``tie``
        of it (stock sells out in all of them) the one where most units are wanted."""
        revenue = self.by_category[c]
        near = revenue >= (1.0 - tie) * revenue.max()
        return int(np.argmax(np.where(near, self.wanted[c], -np.inf)))


def _score(
    model: DemandModel, stock: np.ndarray, terms: Terms, day_start: float, minutes: int, options: PlanOptions
) -> _Scored:
    lead = min(terms.restock_lead_minutes, minutes)
    starts, first, rest = phase_demand(model, day_start, minutes, options.start_step_minutes, lead)
    best, discount, reorder = best_discounts(first, rest, model, stock, terms, options)
    members = [model.sku_category == c for c in range(len(model.categories))]
    by_category = np.stack([best[m].sum(axis=0) for m in members])
    wanted = np.stack([(first + rest)[m].sum(axis=0) for m in members])
    return _Scored(minutes, starts, first, rest, discount, reorder, by_category, wanted)


def choose_windows(
    model: DemandModel, stock: np.ndarray, terms: Terms, day_start: float, options: PlanOptions
) -> dict[int, _Choice]:
    """Per category index its window, with what its SKUs want there and their discounts and reorders."""
    scored = [_score(model, stock, terms, day_start, m, options) for m in sorted(options.durations)]
    out = {}
    for c in range(len(model.categories)):
        top = max(float(s.by_category[c].max()) for s in scored)
        pick = next(s for s in scored if s.by_category[c].max() >= (1 - options.duration_tolerance) * top)
        j = pick.best_start(c)
        members = model.sku_category == c
        out[c] = _Choice(
            int(pick.starts[j]),
            pick.minutes,
            pick.by_category[c],
            pick.first[members, j],
            pick.rest[members, j],
            pick.discount[members, j],
            pick.reorder[members, j],
        )
    return out


def _draw_sales(
    model: DemandModel,
    c: int,
    choice: _Choice,
    stock: np.ndarray,
    options: PlanOptions,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws × SKUs of the category: units sold and revenue under the plan (:mod:`models.plan.draws`)."""
    members = np.flatnonzero(model.sku_category == c)
    shared, own = parameter_uncertainty(model, c, members, choice.start, choice.minutes, choice.discount)
    scale = lognormal(rng, np.array([shared]), options.draws) * lognormal(rng, own, options.draws)
    factor = (1.0 - choice.discount) ** -model.elasticity[members]
    first = negative_binomial(rng, scale * choice.first * factor, model.dispersion)
    rest = negative_binomial(rng, scale * choice.rest * factor, model.dispersion)
    sold = fluid_units(first.T, rest.T, stock[members].astype(float), choice.reorder[:, None]).T
    price = np.array([model.skus[i].base_price for i in members]) * (1.0 - choice.discount)
    return sold, sold * price


def plan_sale(
    model: DemandModel, stock: np.ndarray, terms: Terms, day: datetime, options: PlanOptions | None = None
) -> Plan:
    """The plan for a sale on ``day``'s date (windows start from its 00:00 at the model's UTC offset;
    their times are given at that offset) with ``stock`` (per SKU of the model: on hand + inbound now)
    under ``terms``."""
    options = options or PlanOptions()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    day_start = midnight.timestamp() - 3600.0 * model.options.utc_offset_hours
    choices = choose_windows(model, stock, terms, day_start, options)
    rng = np.random.default_rng(options.seed)
    local = timezone(timedelta(hours=model.options.utc_offset_hours))
    categories, skus = [], []
    for c, choice in sorted(choices.items()):
        members = np.flatnonzero(model.sku_category == c)
        sold, revenue = _draw_sales(model, c, choice, stock, options, rng)
        names = tuple(model.skus[i].sku for i in members)
        categories.append(
            CategoryPlan(
                model.categories[c],
                from_epoch(day_start + 60.0 * choice.start).astimezone(local),
                choice.minutes,
                Estimate.of(sold.sum(axis=1), options.level),
                Estimate.of(revenue.sum(axis=1), options.level),
                names,
                choice.by_start,
            )
        )
        for j, i in enumerate(members):
            skus.append(
                SkuPlan(
                    names[j],
                    model.categories[c],
                    round(float(choice.discount[j]), 4),
                    int(stock[i]),
                    int(choice.reorder[j]),
                    int(stock[i] + choice.reorder[j]),
                    float(model.elasticity[i]),
                    float(model.elasticity_se[i]),
                    Estimate.of(sold[:, j], options.level),
                    Estimate.of(revenue[:, j], options.level),
                )
            )
    skus.sort(key=lambda s: s.sku)
    return Plan(day, tuple(categories), tuple(skus), terms, options)
