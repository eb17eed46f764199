"""Everything the pipeline knows about one SKU, and the decisions it takes when a bucket closes.

Events are applied in event-time order (the stream guarantees it behind its watermark); each closed
bucket feeds the demand forecaster (the status band the dashboard shows) and the campaign-aware demand
model (:class:`~models.policy.campaign_demand.CampaignDemand`: the campaign window and the discount the
catalog published as known covariates), then the restock and discount rules
(:mod:`models.policy.sku_decisions`) run on the state as of the bucket's end. Nothing here reads the
clock: the same events give the same decisions, with ids derived from (kind, sku, bucket).

>>> from datetime import UTC, datetime
>>> state = SkuState("sku-1")
>>> t0 = datetime(2026, 11, 11, 12, tzinfo=UTC).timestamp()
>>> state.apply({"on_hand": 3, "inbound": 0, "ts": "…"}, t0)  # a stock event
>>> state.apply({"quantity": 2, "unit_price": 9.0, "order_id": "o1"}, t0 + 5)
>>> state.units_sold, state.revenue
(2, 18.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from models.forecast.demand import ClosedBucket, DemandForecaster
from models.ids import from_epoch, to_epoch
from models.policy.campaign_demand import CampaignDemand
from models.policy.control import CONTROL, BucketOutcome
from models.policy.sku_decisions import DecisionRules
from models.policy.sku_policy import Campaign, Decision, SkuPolicy

__all__ = ["Campaign", "Decision", "SkuPolicy", "SkuState"]


@dataclass
class SkuState(DecisionRules):
    """Counters, stock, campaign, forecaster and demand model of one SKU."""

    sku: str
    policy: SkuPolicy = field(default_factory=SkuPolicy)
    units_sold: int = 0
    revenue: float = 0.0
    on_hand: int | None = None
    inbound: int = 0
    campaign: Campaign | None = None
    discount: float = 0.0
    last_discount_change: float | None = None
    restocks: list[tuple[float, int]] = field(default_factory=list)  # (time, quantity) not yet arrived
    bucket_start: float | None = None
    bucket_units: float = 0.0
    listed: bool = False  # the catalog has named this SKU
    popularity: float = 0.0  # EWMA of units per bucket
    closed_buckets: int = 0
    # Oversell: units the last stock event left, less the orders after it. A stock event counts every
    # order up to and including its own time (producers report stock after the orders of an instant).
    available: int | None = None
    stock_at: float | None = None
    oversold_units: int = 0  # units sold beyond the stock known to be there (still counted as sold)
    oversold_orders: int = 0
    opening_stock: int | None = None  # the first stock level seen (the control arm's restock scales with it)
    base_price: float | None = None  # the catalog's, once listed
    bucket_revenue: float = 0.0
    live_discount: float = 0.0  # the campaign's discount as the catalog last published it
    supplier_short_at: float | None = None  # when the supplier took less than ordered (no more orders)
    forecaster: DemandForecaster = field(init=False)
    demand: CampaignDemand = field(init=False)
    # Closed buckets of a held-out campaign, for the experiment; taken (and emptied) by its reader.
    outcomes: list[BucketOutcome] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.forecaster = DemandForecaster(season=self.policy.season_buckets)
        self.demand = CampaignDemand(prior_elasticity=self.policy.prior_elasticity)

    # The plain fields of the state and their type ("?": may be None), checked when a state is read.
    COUNTERS: ClassVar[dict[str, str]] = {
        "units_sold": "int", "revenue": "float", "on_hand": "int?", "inbound": "int", "discount": "float",
        "last_discount_change": "float?", "bucket_start": "float?", "bucket_units": "float",
        "listed": "bool", "popularity": "float", "closed_buckets": "int", "available": "int?",
        "stock_at": "float?", "oversold_units": "int", "oversold_orders": "int", "opening_stock": "int?",
        "base_price": "float?", "bucket_revenue": "float", "live_discount": "float",
        "supplier_short_at": "float?",
    }  # fmt: skip

    def to_state(self) -> dict[str, Any]:
        """Plain values only (numbers, strings, lists, maps): what a changelog stores.

        >>> state = SkuState("sku-1")
        >>> state.apply({"quantity": 2, "unit_price": 9.0, "order_id": "o1"}, 60.0)
        >>> back = SkuState.from_state(state.to_state())
        >>> back.units_sold, back.revenue, back.to_state() == state.to_state()
        (2, 18.0, True)
        """
        return {
            "sku": self.sku,
            "policy": _flat_fields(self.policy),
            **{name: getattr(self, name) for name in self.COUNTERS},
            "campaign": _flat_fields(self.campaign) if self.campaign else None,
            "restocks": [[t, quantity] for t, quantity in self.restocks],
            "forecaster": self.forecaster.to_state(),
            "demand": _flat_fields(self.demand),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SkuState:
        """The state of :meth:`to_state`; KeyError/TypeError/ValueError when ``state`` is not one."""
        known = _POLICY_FIELDS
        policy = SkuPolicy(**{k: v for k, v in state["policy"].items() if k in known})
        out = cls(str(state["sku"]), policy)
        for name, kind in cls.COUNTERS.items():
            value = state[name]  # checked by its exact type first: a state is read on every batch
            setattr(out, name, value if type(value) in _EXACT_TYPES[kind] else _typed(value, kind, name))
        out.campaign = Campaign(**state["campaign"]) if state["campaign"] is not None else None
        out.restocks = [(float(t), int(quantity)) for t, quantity in state["restocks"]]
        out.forecaster = DemandForecaster.from_state(state["forecaster"])
        out.demand = CampaignDemand(**state["demand"])
        return out

    def rejects(self, event: dict[str, Any]) -> str | None:
        """Why ``event`` cannot be applied, or None: orders and stock need a catalog entry first.

        >>> state = SkuState("ghost-1")
        >>> state.rejects({"order_id": "o1", "quantity": 1, "unit_price": 2.0})
        "unknown sku 'ghost-1': the catalog has not listed it"
        >>> state.apply({"title": "Phone", "campaign": None}, 0.0)
        >>> state.rejects({"order_id": "o1", "quantity": 1, "unit_price": 2.0}) is None
        True
        """
        if "title" in event or self.listed:
            return None
        return f"unknown sku {self.sku!r}: the catalog has not listed it"

    def apply(self, event: dict[str, Any], t: float) -> None:
        """Apply one validated order, stock or catalog event (as its JSON dict) at event time ``t``."""
        if self.bucket_start is None:
            self.bucket_start = t // self.bucket_s * self.bucket_s
        if "order_id" in event:
            self.units_sold += event["quantity"]
            self.revenue += event["quantity"] * event["unit_price"]
            self.bucket_units += event["quantity"]
            self.bucket_revenue += event["quantity"] * event["unit_price"]
            self._take_stock(event["quantity"], t)
        elif "on_hand" in event:
            self.on_hand, self.inbound = event["on_hand"], event["inbound"]
            self.available, self.stock_at = event["on_hand"], t
            if self.opening_stock is None:
                self.opening_stock = event["on_hand"]
        elif "title" in event:
            self.listed = True
            if event.get("base_price") is not None:
                self.base_price = float(event["base_price"])
            self._apply_catalog(event.get("campaign"))

    def _take_stock(self, quantity: int, t: float) -> None:
        """Count what an order at ``t`` takes beyond the known stock.

        >>> state = SkuState("sku-1")
        >>> state.apply({"on_hand": 1, "inbound": 0, "ts": "…"}, 0.0)
        >>> state.apply({"quantity": 1, "unit_price": 2.0, "order_id": "o1"}, 0.0)  # in the stock event
        >>> state.apply({"quantity": 3, "unit_price": 2.0, "order_id": "o2"}, 5.0)
        >>> state.units_sold, state.oversold_units, state.oversold_orders
        (4, 2, 1)
        """
        if self.available is None or self.stock_at is None or t <= self.stock_at:
            return  # no stock seen yet, or the stock event of this instant already counts it
        short = quantity - max(self.available, 0)
        self.available -= quantity
        if short > 0:
            self.oversold_units += short
            self.oversold_orders += 1

    def _apply_catalog(self, campaign: dict[str, Any] | None) -> None:
        if campaign is None:
            self.campaign = None
            return
        same = self.campaign is not None and self.campaign.campaign_id == campaign["campaign_id"]
        self.live_discount = float(campaign["discount"])
        self.campaign = Campaign(
            campaign["campaign_id"],
            to_epoch(datetime.fromisoformat(campaign["starts_at"])),
            to_epoch(datetime.fromisoformat(campaign["ends_at"])),
            campaign["discount"],
            campaign["min_discount"],
            campaign["max_discount"],
            campaign["restock_lead_minutes"],
        )
        if not same:  # a new campaign starts from its own discount; a re-published one keeps ours
            self.discount, self.last_discount_change = campaign["discount"], None
            self.supplier_short_at = None

    @property
    def closes_at(self) -> float:
        """The watermark that closes the open bucket (inf before the first event)."""
        return math.inf if self.bucket_start is None else self.bucket_start + self.bucket_s

    def advance(self, until: float) -> list[Decision]:
        """Close every bucket that ends at or before ``until``; return the decisions taken."""
        decisions: list[Decision] = []
        while self.bucket_start is not None and self.bucket_start + self.bucket_s <= until:
            bucket = ClosedBucket(from_epoch(self.bucket_start), self.bucket_units)
            decisions += self._close(bucket)
            self.bucket_start += self.bucket_s
            self.bucket_units = self.bucket_revenue = 0.0
        return decisions

    def _close(self, bucket: ClosedBucket) -> list[Decision]:
        end = to_epoch(bucket.start) + self.bucket_s
        live = self.campaign is not None and self.campaign.live(to_epoch(bucket.start))
        if self.on_hand != 0:  # a sold-out bucket says nothing about demand: don't learn zero from it
            self.forecaster.learn_one(bucket.units)
            self.demand.learn_one(bucket.units, self.live_discount if live else 0.0, live)
        self.popularity += 0.3 * (bucket.units - self.popularity)
        self.closed_buckets += 1
        arm = self.arm
        if arm is not None:
            self.outcomes.append(self._outcome(bucket, arm))
        out = []
        restock = self._control_restock(bucket, end) if arm == CONTROL else self._restock(bucket, end)
        if restock:
            out.append(restock)
        if live and arm != CONTROL:  # the control arm keeps the campaign's discount
            discount = self._discount(bucket, end)
            if discount:
                out.append(discount)
        return out

    def _outcome(self, bucket: ClosedBucket, arm: str) -> BucketOutcome:
        campaign = self.campaign
        assert campaign is not None
        return BucketOutcome(campaign.campaign_id, campaign.starts_at, campaign.ends_at, self.sku, arm,
                             to_epoch(bucket.start), bucket.units, self.bucket_revenue, self.opening_stock,
                             self.base_price)  # fmt: skip

    def status(self) -> dict[str, Any]:
        """What recommendations and the dashboard read of this SKU after a closed bucket.

        ``forecast``: the units expected in the bucket now open, with its central band at the policy's
        service level.

        >>> state = SkuState("sku-1")
        >>> state.apply({"on_hand": 9, "inbound": 4, "ts": "…"}, 0.0)
        >>> state.apply({"quantity": 3, "unit_price": 2.0, "order_id": "o1"}, 10.0)
        >>> _ = state.advance(60.0)
        >>> status = state.status()
        >>> status["inbound"], status["forecast"]["bucket"]
        (4, '1970-01-01T00:01:00+00:00')
        """
        status: dict[str, Any] = {
            "sku": self.sku,
            "on_hand": self.on_hand,
            "inbound": self.inbound,
            "discount": self.discount,
            "popularity": round(self.popularity, 4),
            "units_sold": self.units_sold,
            "oversold_units": self.oversold_units,
            "oversold_orders": self.oversold_orders,
        }
        if self.arm is not None:
            status["holdout_arm"] = self.arm
        if self.bucket_start is not None:
            lo, hi = self.forecaster.interval(1, self.policy.service_level)
            status["forecast"] = {
                "bucket": from_epoch(self.bucket_start).isoformat(),
                "units": round(self.forecaster.forecast(1)[0], 4),
                "lo": round(lo, 4),
                "hi": round(hi, 4),
                "level": self.policy.service_level,
            }
        return status


_POLICY_FIELDS = frozenset(f.name for f in fields(SkuPolicy))
_EXACT_TYPES: dict[str, set[type]] = {
    "int": {int}, "int?": {int, type(None)}, "float": {float}, "float?": {float, type(None)}, "bool": {bool},
}  # fmt: skip


def _typed(value: Any, kind: str, name: str) -> Any:
    """``value`` if it has the type ``kind`` names (``float`` takes an int too), else ValueError."""
    if value is None and kind.endswith("?"):
        return None
    base = kind.rstrip("?")
    ok = isinstance(value, bool) if base == "bool" else not isinstance(value, bool)
    ok = ok and isinstance(value, {"int": int, "float": int | float, "bool": bool}[base])
    if not ok:
        raise ValueError(f"{name}: expected {kind}, got {type(value).__name__}")
    return float(value) if base == "float" else value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per dataclass, for _flat_fields


def _flat_fields(obj: Any) -> dict[str, Any]:
    """A dataclass of numbers and strings as a map: :func:`dataclasses.asdict` without its deep copy,
    which took most of the time of encoding an SKU's state."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    return {name: getattr(obj, name) for name in names}
