"""The restock and discount decisions of one SKU, taken when a bucket closes (a mixin of
:class:`models.policy.sku_state.SkuState`, which holds the state they read and update).

Restocks are sized by :func:`models.policy.restock.restock_decision` on the campaign-aware demand
(:class:`models.policy.campaign_demand.CampaignOutlook`): an order that would land after the campaign
is sized for the demand after it. Our orders within their lead time count as inbound until a stock
report later than ``restock_confirm_buckets`` after one shows less: then the supplier took less than we
asked, and no more orders go out in this campaign. An order covers the rest of the campaign only once
the campaign has ``min_evidence_buckets`` of sales (one review period before). Discounts follow
:func:`models.policy.discount.discount_decision` from then on too, and the first change says why it
waited. A SKU in a holdout's control arm (:mod:`models.policy.control`) reorders by the static
baseline's naive rule instead and keeps the campaign's discount.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from models.forecast.demand import ClosedBucket, DemandForecaster
from models.ids import decision_id, from_epoch
from models.policy.campaign_demand import CampaignDemand, CampaignOutlook
from models.policy.control import NaiveRestock, holdout_arm
from models.policy.discount import discount_decision
from models.policy.restock import restock_decision
from models.policy.sku_policy import Campaign, Decision, SkuPolicy

NAIVE_RESTOCK = NaiveRestock()  # the static baseline's rule, as models.sim.policies applies it


class DecisionRules:
    """Restock and discount rules over the state of :class:`~models.policy.sku_state.SkuState`."""

    sku: str
    policy: SkuPolicy
    on_hand: int | None
    inbound: int
    stock_at: float | None
    campaign: Campaign | None
    discount: float
    last_discount_change: float | None
    restocks: list[tuple[float, int]]
    supplier_short_at: float | None
    demand: CampaignDemand
    forecaster: DemandForecaster
    opening_stock: int | None

    @property
    def bucket_s(self) -> int:
        return 60 * self.policy.bucket_minutes

    @property
    def arm(self) -> str | None:
        """The holdout arm of this SKU's campaign (``control`` / ``treatment``); None without one."""
        if self.campaign is None or self.policy.holdout_share <= 0.0:
            return None
        return holdout_arm(self.campaign.campaign_id, self.sku, self.policy.holdout_share)

    def _lead_minutes(self) -> int:
        return self.campaign.restock_lead_minutes if self.campaign else self.policy.default_lead_minutes

    def _restock(self, bucket: ClosedBucket, end: float) -> Decision | None:
        if self.on_hand is None:
            return None  # no stock level seen yet: nothing to decide on
        self._check_supplier(end)
        campaign = self.campaign
        if self.supplier_short_at is not None:
            return None  # the supplier took less than we asked: it has no more for now
        inbound = self._inbound()
        lead = max(math.ceil(self._lead_minutes() / self.policy.bucket_minutes), 1)
        cover = self.policy.review_buckets
        evidence = self.demand.n_live >= self.policy.min_evidence_buckets  # before it: one review period
        if (
            self.policy.restock_horizon == "campaign"
            and evidence
            and campaign is not None
            and campaign.live(end)
        ):
            cover = max(cover, math.ceil((campaign.ends_at - end) / self.bucket_s) - lead)
        window = (campaign.starts_at, campaign.ends_at) if campaign is not None else None
        outlook = CampaignOutlook(self.demand, window, end, self.bucket_s, self.discount)
        decision = restock_decision(
            self.on_hand, inbound, outlook, lead, self.policy.service_level, max(cover, 1),
            self.policy.bucket_minutes,
        )  # fmt: skip
        if decision is None:
            return None
        self.restocks.append((end, decision.quantity))
        ts = from_epoch(end)
        fields = {
            "event_id": decision_id("restock", self.sku, bucket.start),
            "sku": self.sku,
            "quantity": decision.quantity,
            "on_hand": int(self.on_hand),
            "inbound": int(inbound),
            "forecast_units": round(decision.forecast_units, 4),
            "horizon_minutes": decision.horizon_buckets * self.policy.bucket_minutes,
            "service_level": self.policy.service_level,
            "reason": decision.reason,
            "ts": ts,
        }
        return Decision("restock", self.sku, ts, fields)

    def _discount(self, bucket: ClosedBucket, end: float) -> Decision | None:
        campaign = self.campaign
        assert campaign is not None
        if self.demand.n_live < self.policy.min_evidence_buckets:
            return None  # too few minutes of campaign sales to tell the sale's pace from noise
        last = from_epoch(self.last_discount_change) if self.last_discount_change is not None else None
        remaining = max(math.ceil((campaign.ends_at - end) / self.bucket_s), 0)
        decision = discount_decision(
            self.discount, campaign.min_discount, campaign.max_discount, self.policy.max_discount_step,
            timedelta(minutes=self.policy.discount_cooldown_minutes), last, from_epoch(end),
            self._stock_for_sale(end, campaign), from_epoch(campaign.ends_at),
            [self.demand.rate(self.discount, True)] * remaining, self.demand.elasticity,
            math.sqrt(max(self.demand.p_ee, 0.0)), bucket_seconds=self.bucket_s,
            target_sell_through=self.policy.target_sell_through, revenue_guard_z=self.policy.revenue_guard_z,
        )  # fmt: skip
        if decision is None:
            return None
        self.discount, self.last_discount_change = decision.new_discount, end
        ts = from_epoch(end)
        fields = {
            "event_id": decision_id("discount", self.sku, bucket.start),
            "sku": self.sku,
            "campaign_id": campaign.campaign_id,
            "old_discount": decision.old_discount,
            "new_discount": decision.new_discount,
            "projected_sell_through": round(decision.projected_sell_through, 4),
            "reason": decision.reason + self._first_change_note(last),
            "ts": ts,
        }
        return Decision("discount", self.sku, ts, fields)

    def _first_change_note(self, last: datetime | None) -> str:
        """Why the first change of a campaign came when it did (the minimum-evidence rule)."""
        if last is not None or not self.policy.min_evidence_buckets:
            return ""
        minutes = self.policy.min_evidence_buckets * self.policy.bucket_minutes
        return (
            f"; first change, after {self.demand.n_live * self.policy.bucket_minutes} campaign minutes of "
            f"sales ({self.demand.live_units:g} units): none before {minutes} min of evidence"
        )

    def _stock_for_sale(self, now: float, campaign: Campaign) -> float:
        """On hand plus what is on its way, if it can still arrive before the sale ends."""
        arrives_in_time = now + self._lead_minutes() * 60 < campaign.ends_at
        return float(self.on_hand or 0) + (self._inbound() if arrives_in_time else 0)

    def _confirm_s(self) -> float:
        return self.policy.restock_confirm_buckets * self.bucket_s

    def _check_supplier(self, now: float) -> None:
        """Note a supplier that took less than ordered: a stock event later than an order's
        confirmation time shows less inbound than our orders still on their way. It has no more for
        the rest of the campaign; outside campaigns we ask again one lead time later."""
        lead_s = self._lead_minutes() * 60
        self.restocks = [(t, q) for t, q in self.restocks if t + lead_s > now]  # the rest has landed
        short_at = self.supplier_short_at
        if short_at is not None and self.campaign is None and now >= short_at + lead_s:
            self.supplier_short_at = None
        if self.stock_at is None or self.supplier_short_at is not None:
            return
        confirmed = sum(q for t, q in self.restocks if t + self._confirm_s() <= self.stock_at)
        if self.inbound < confirmed:
            self.supplier_short_at = self.stock_at

    def _inbound(self) -> int:
        """What is on its way: what the stock topic shows, or our orders still within their lead time
        if more (the topic may not show the latest yet), unless the supplier has turned one down."""
        if self.supplier_short_at is not None:
            return self.inbound
        return max(self.inbound, sum(q for _, q in self.restocks))

    def _control_restock(self, bucket: ClosedBucket, end: float) -> Decision | None:
        """The static policy's naive reorder (see :mod:`models.policy.control`); its own reorders count
        as inbound until the stock shows them, as the adaptive policy's do."""
        if self.on_hand is None or self.opening_stock is None:
            return None
        lead_minutes = self._lead_minutes()
        self.restocks = [(t, q) for t, q in self.restocks if t + lead_minutes * 60 > end]
        inbound = max(self.inbound, sum(q for _, q in self.restocks))
        quantity = NAIVE_RESTOCK.quantity(self.on_hand, inbound, self.opening_stock)
        if quantity is None:
            return None
        self.restocks.append((end, quantity))
        ts = from_epoch(end)
        lead_buckets = max(math.ceil(lead_minutes / self.policy.bucket_minutes), 1)
        fields = {
            "event_id": decision_id("restock", self.sku, bucket.start),
            "sku": self.sku,
            "quantity": quantity,
            "on_hand": int(self.on_hand),
            "inbound": int(inbound),
            "forecast_units": round(sum(self.forecaster.forecast(lead_buckets)), 4),
            "horizon_minutes": lead_buckets * self.policy.bucket_minutes,
            "service_level": 0.0,  # the naive rule aims at none
            "reason": NAIVE_RESTOCK.reason(self.on_hand, self.opening_stock, quantity),
            "ts": ts,
        }
        return Decision("restock", self.sku, ts, fields)
