"""Scenario settings and the hidden truth of a simulated flash sale.

The truth (elasticities, popularity, user tastes, traffic curve) is drawn once from the seed. The
pipeline never sees it; the ledger, the clairvoyant plan and forecast scoring do.

Two markets differ in how a cart turns into an order as the discount deepens (``demand_response``):

- ``constant-elasticity`` (the default): the chance scales as ``(1 - discount) ** -elasticity`` up to
  ``max_buy``, close to the log-linear response the adaptive policy assumes;
- ``saturating``: an S-shaped response that breaks that assumption. Small discounts move almost nobody,
  demand rises steeply around a per-SKU threshold (``threshold_range``) over about ``threshold_width``,
  then saturates at what 50 % off brings in the first market: beyond the threshold a deeper discount
  only gives money away.

>>> truth = MarketTruth(ScenarioConfig(n_users=50, n_skus=10))
>>> bool(truth.true_demand(0, 40, 0.5) > truth.true_demand(0, 40, 0.1))  # deeper discount, more demand
True
>>> s = MarketTruth(ScenarioConfig(n_users=50, n_skus=10, demand_response="saturating"))
>>> p = s.buy_probability(np.full(10, 0.6)) / s.buy_probability(np.full(10, 0.5))
>>> bool(p.max() < 1.1)  # saturated: 60 % off sells hardly more than 50 %
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from models.sim.catalog import CATEGORIES, SimSku, build_catalog
from models.sim.daycurve import DayCurve

QUANTITY_PROBS = (0.85, 0.12, 0.03)  # 1, 2 or 3 units per order
MEAN_QUANTITY = sum((i + 1) * p for i, p in enumerate(QUANTITY_PROBS))


@dataclass(frozen=True)
class ScenarioConfig:
    """Everything that defines a simulated sale; same config ⇒ same market."""

    seed: int = 7
    n_users: int = 2000
    n_skus: int = 40
    start: datetime = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
    duration_minutes: int = 120
    campaign_offset_minutes: int = 30
    campaign_minutes: int = 60
    campaign_fraction: float = 1.0  # share of SKUs in the campaign; the rest have campaign null
    default_discount: float = 0.3
    min_discount: float = 0.1
    max_discount: float = 0.6
    restock_lead_minutes: int = 15
    restock_capacity: float = 1.0  # supplier allocation: at most this × initial stock can be reordered
    stock_coverage: tuple[float, float] = (0.4, 1.6)  # initial stock / expected demand at the default
    min_initial_stock: int = 5
    sessions_per_minute: float = 100.0  # before and after the campaign
    spike_multiplier: float = 8.0  # traffic at the first campaign minute, × the base
    campaign_multiplier: float = 2.5  # traffic the spike decays to during the campaign
    spike_decay_minutes: float = 8.0
    zipf_exponent: float = 1.0
    preference_concentration: float = 0.6  # Dirichlet scale; lower means pickier users
    elasticity_jitter: float = 0.3
    p_search: float = 0.3
    p_click: float = 0.45
    p_cart: float = 0.5
    p_buy: float = 0.12  # at full price; scaled by (1 - discount) ** -elasticity
    max_buy: float = 0.9
    demand_response: Literal["constant-elasticity", "saturating"] = "constant-elasticity"
    threshold_range: tuple[float, float] = (0.2, 0.4)  # saturating: per-SKU discount of half response
    threshold_width: float = 0.05  # saturating: scale of the S-curve's rise
    p_follow_recommendation: float = 0.5
    recommendation_ttl_minutes: int = 30
    # Closing stock of every SKU at the end of every n-th minute, as inventory systems reconcile. Each
    # minute's (n = 1) also carries event time past a quiet, sold-out minute, so the stream can close it.
    stock_snapshot_minutes: int = 1
    id_prefix: str = "sim"
    campaign_id: str = ""  # derived from start and seed when empty
    day_curve: DayCurve | None = None  # traffic by time of day and weekday, category peaks; None: flat
    initial_stock: tuple[int, ...] = ()  # opening stock per SKU; empty: drawn from stock_coverage

    def __post_init__(self) -> None:
        if self.start.utcoffset() != timedelta(0) or self.start.second or self.start.microsecond:
            raise ValueError("start must be a UTC datetime on a whole minute")
        if not 0.0 <= self.min_discount <= self.default_discount <= self.max_discount < 1.0:
            raise ValueError("need 0 <= min_discount <= default_discount <= max_discount < 1")
        if not 0 <= self.campaign_offset_minutes < self.campaign_end_minute <= self.duration_minutes:
            raise ValueError("the campaign must lie inside the simulated horizon")
        if min(self.n_users, self.n_skus, self.stock_snapshot_minutes) < 1 or self.restock_lead_minutes < 0:
            raise ValueError(
                "n_users, n_skus, stock_snapshot_minutes must be >= 1, restock_lead_minutes >= 0"
            )
        if self.initial_stock and (len(self.initial_stock) != self.n_skus or min(self.initial_stock) < 0):
            raise ValueError("initial_stock needs one count >= 0 per SKU")
        if self.demand_response not in ("constant-elasticity", "saturating"):
            raise ValueError(f"unknown demand_response {self.demand_response!r}")
        if not self.campaign_id:
            object.__setattr__(self, "campaign_id", f"flash-{self.start:%Y%m%d-%H%M}-{self.seed}")

    @property
    def campaign_end_minute(self) -> int:
        return self.campaign_offset_minutes + self.campaign_minutes

    def minute_start(self, minute: int) -> datetime:
        return self.start + timedelta(minutes=minute)

    def in_campaign(self, minute: int) -> bool:
        return self.campaign_offset_minutes <= minute < self.campaign_end_minute

    def minute_times(self) -> np.ndarray:
        """Epoch seconds at the middle of every simulated minute."""
        return self.start.timestamp() + 60.0 * np.arange(self.duration_minutes) + 30.0


def traffic_curve(config: ScenarioConfig) -> np.ndarray:
    """Expected sessions per minute: flat, a spike at campaign start decaying to a plateau, flat; all
    of it times the shop-wide day curve when the scenario has one."""
    t = np.arange(config.duration_minutes, dtype=float)
    since = t - config.campaign_offset_minutes
    lift = config.campaign_multiplier + (config.spike_multiplier - config.campaign_multiplier) * np.exp(
        -np.maximum(since, 0.0) / config.spike_decay_minutes
    )
    active = (since >= 0) & (t < config.campaign_end_minute)
    sessions = config.sessions_per_minute * np.where(active, lift, 1.0)
    if config.day_curve is not None:
        sessions = sessions * config.day_curve.shop(config.minute_times())
    return sessions


class MarketTruth:
    """Hidden parameters of one scenario, all drawn from ``config.seed``."""

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.catalog: list[SimSku] = build_catalog(config.n_skus, config.seed)
        rng = np.random.default_rng([config.seed, 1])
        n = config.n_skus
        names = [c.name for c in CATEGORIES]
        cat_index = np.array([names.index(s.category) for s in self.catalog])
        self.categories = np.unique(cat_index)  # only those the catalogue uses
        self.sku_category = np.searchsorted(self.categories, cat_index)  # 0..n_cats-1
        self.base_price = np.array([s.base_price for s in self.catalog])
        self.in_campaign = rng.random(n) < config.campaign_fraction
        cat_elasticity = np.array([CATEGORIES[i].elasticity for i in cat_index])
        jitter = rng.normal(0.0, config.elasticity_jitter, n)
        self.elasticity = np.clip(cat_elasticity + jitter, 0.3, 4.0)
        # The saturating market's thresholds: a generator of their own, so the first market's draws stay.
        self.threshold = np.random.default_rng([config.seed, 3]).uniform(*config.threshold_range, n)
        # Zipf popularity over a random ranking; a SKU's share is within its category.
        popularity = 1.0 / rng.permutation(np.arange(1, n + 1)) ** config.zipf_exponent
        self.cat_members = [np.flatnonzero(self.sku_category == c) for c in range(len(self.categories))]
        self.cat_cdf = [np.cumsum(popularity[m]) / popularity[m].sum() for m in self.cat_members]
        within = np.empty(n)
        for members in self.cat_members:
            within[members] = popularity[members] / popularity[members].sum()
        weights = np.array([CATEGORIES[i].weight for i in self.categories])
        alpha = config.preference_concentration * len(weights) * weights / weights.sum()
        self.preference = rng.dirichlet(alpha, size=config.n_users)  # users × categories
        self.preference_cdf = np.cumsum(self.preference, axis=1)
        self._preference_max = self.preference.max(axis=1)
        activity = rng.lognormal(0.0, 1.0, config.n_users)
        activity /= activity.sum()
        self.activity_cdf = np.cumsum(activity)
        # Chance that one session lands on each SKU organically (no recommendation).
        self.share = (activity @ self.preference)[self.sku_category] * within
        self.sessions = traffic_curve(config)
        # Minutes × categories: each category's own peak (day curve), None when the day is flat.
        self.category_weight: np.ndarray | None = None
        if config.day_curve is not None:
            used = tuple(names[c] for c in self.categories)
            self.category_weight = config.day_curve.categories(config.minute_times(), used)
        self.initial_stock = self._initial_stock(rng)

    def affinity(self, users: np.ndarray, skus: np.ndarray) -> np.ndarray:
        """How well each SKU's category matches each user's taste, in (0, 1] (1 = favourite category)."""
        return self.preference[users, self.sku_category[skus]] / self._preference_max[users]

    def buy_probability(self, discount: np.ndarray) -> np.ndarray:
        """Per SKU, chance that a cart becomes an order at the given discount (hidden response)."""
        c = self.config
        if c.demand_response == "saturating":
            top = np.minimum(c.max_buy, c.p_buy * 0.5**-self.elasticity)

            def rise(d: np.ndarray | float) -> np.ndarray:
                return 1.0 / (1.0 + np.exp(-(d - self.threshold) / c.threshold_width))

            share = (rise(discount) - rise(0.0)) / (1.0 - rise(0.0))
            return c.p_buy + (top - c.p_buy) * share
        return np.minimum(c.max_buy, c.p_buy * (1.0 - discount) ** -self.elasticity)

    def demand_rate(self, minute: int, discount: np.ndarray) -> np.ndarray:
        """Expected units wanted per SKU in ``minute`` at the discount in force then (no recommendations)."""
        c = self.config
        funnel = c.p_click * c.p_cart * MEAN_QUANTITY
        rate = self.sessions[minute] * self.share * funnel * self.buy_probability(discount)
        if self.category_weight is not None:
            rate = rate * self.category_weight[minute, self.sku_category]
        return rate

    def true_demand(self, sku: int, minute: int, discount: float) -> float:
        """Expected units of SKU index ``sku`` wanted in ``minute`` if ``discount`` were live then."""
        live = discount if self.in_campaign[sku] and self.config.in_campaign(minute) else 0.0
        d = np.zeros(self.config.n_skus)
        d[sku] = live
        return float(self.demand_rate(minute, d)[sku])

    def discount_schedule(self, discount: np.ndarray) -> np.ndarray:
        """SKUs × minutes matrix of the discount in force if ``discount`` were held all campaign."""
        c = self.config
        minutes = np.arange(c.duration_minutes)
        active = (minutes >= c.campaign_offset_minutes) & (minutes < c.campaign_end_minute)
        return np.outer(np.where(self.in_campaign, discount, 0.0), active)

    def demand_matrix(self, discount: np.ndarray) -> np.ndarray:
        """SKUs × minutes expected units wanted under a constant campaign ``discount`` per SKU."""
        schedule = self.discount_schedule(discount)
        return np.stack([self.demand_rate(m, schedule[:, m]) for m in range(schedule.shape[1])], axis=1)

    def _initial_stock(self, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        if c.initial_stock:
            return np.array(c.initial_stock, dtype=np.int64)
        default = np.full(c.n_skus, c.default_discount)
        expected = self.demand_matrix(default).sum(axis=1)
        coverage = rng.uniform(*c.stock_coverage, c.n_skus)
        return np.maximum(np.rint(coverage * expected), c.min_initial_stock).astype(np.int64)
