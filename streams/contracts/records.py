"""Typed records of every contract event (../shared/PRODUCT.md), one class per topic.

Field descriptors carry the constraints (lengths, bounds, choices); :mod:`streams.contracts.decoding` enforces
them strictly and :mod:`streams.contracts.schemas` turns them into JSON Schemas for downstream services.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import faust
from faust.models.fields import DatetimeField, FieldDescriptor, FloatField, IntegerField, StringField
from faust.serializers import codecs

from models.recommend.reasons import REASON_KINDS

ID_MAX = 128
TEXT_MAX = 512
ACTIONS = ("view", "click", "add_to_cart", "search")


class ChoiceField(StringField):
    """A string that must be one of ``choices``."""

    def __init__(self, *, choices: tuple[str, ...], **kwargs: Any) -> None:
        self.choices = choices
        super().__init__(**kwargs)
        self.options["choices"] = choices


def _id(**kw: Any) -> Any:
    return StringField(max_length=ID_MAX, **kw)


def _text(**kw: Any) -> Any:
    return StringField(max_length=TEXT_MAX, **kw)


def _number(**kw: Any) -> Any:
    return FloatField(**kw)  # Faust types bounds as int; floats work the same


def _fraction(**kw: Any) -> Any:
    return _number(min_value=0.0, max_value=1.0, **kw)


class Event(faust.Record, abstract=True, isodates=True, serializer="json", include_metadata=False):
    """Base of contract events; ``invariants`` adds checks that span fields."""

    topic_name: ClassVar[str] = ""

    def invariants(self) -> list[str]:
        return []


class Campaign(faust.Record, isodates=True, serializer="json", include_metadata=False):
    campaign_id: str = _id(required=True)
    starts_at: datetime = DatetimeField(required=True)
    ends_at: datetime = DatetimeField(required=True)
    discount: float = _fraction(required=True)
    min_discount: float = _fraction(required=True)
    max_discount: float = _fraction(required=True)
    restock_lead_minutes: int = IntegerField(min_value=0, max_value=60 * 24 * 90, required=True)


class CatalogItem(Event):
    """``catalog`` (compacted, key = sku)."""

    topic_name: ClassVar[str] = "catalog"
    sku: str = _id(required=True)
    title: str = _text(required=True)
    category: str = _id(required=True)
    base_price: float = _number(min_value=0.0, max_value=1e9, required=True)
    updated_at: datetime = DatetimeField(required=True)
    campaign: Campaign | None = None

    def invariants(self) -> list[str]:
        c = self.campaign
        if c is None:
            return []
        errors = []
        if c.starts_at >= c.ends_at:
            errors.append("campaign.starts_at must be before campaign.ends_at")
        if not c.min_discount <= c.discount <= c.max_discount:
            errors.append("campaign.discount must lie within [min_discount, max_discount]")
        return errors


class Click(Event):
    """``clicks`` (key = user_id): a view, click, add-to-cart or search."""

    topic_name: ClassVar[str] = "clicks"
    event_id: str = _id(required=True)
    user_id: str = _id(required=True)
    action: str = ChoiceField(choices=ACTIONS, required=True)
    ts: datetime = DatetimeField(required=True)
    sku: str | None = _id(required=False, default=None)
    query: str | None = _text(required=False, default=None)

    def invariants(self) -> list[str]:
        if self.action == "search" and not self.query:
            return ["a search needs a query"]
        if self.action != "search" and not self.sku:
            return [f"a {self.action} needs a sku"]
        return []


class Order(Event):
    """``orders`` (key = user_id)."""

    topic_name: ClassVar[str] = "orders"
    event_id: str = _id(required=True)
    order_id: str = _id(required=True)
    user_id: str = _id(required=True)
    sku: str = _id(required=True)
    quantity: int = IntegerField(min_value=1, max_value=10_000, required=True)
    unit_price: float = _number(min_value=0.0, max_value=1e9, required=True)
    ts: datetime = DatetimeField(required=True)


class StockLevel(Event):
    """``stock`` (key = sku)."""

    topic_name: ClassVar[str] = "stock"
    event_id: str = _id(required=True)
    sku: str = _id(required=True)
    on_hand: int = IntegerField(min_value=0, max_value=10**9, required=True)
    inbound: int = IntegerField(min_value=0, max_value=10**9, required=True)
    ts: datetime = DatetimeField(required=True)


class RecommendedItem(faust.Record, serializer="json", include_metadata=False):
    """One item of a list; ``reason`` names the user's own signal behind it, or its sales, and
    ``reason_kind`` says which, from one vocabulary (:data:`models.recommend.ranking.REASON_KINDS`)."""

    sku: str = _id(required=True)
    score: float = _number(required=True)
    reason: str = _text(required=True)
    reason_kind: str = ChoiceField(choices=REASON_KINDS, required=True)


class Recommendation(Event):
    """``recommendations`` (key = user_id): top-k SKUs for a user."""

    topic_name: ClassVar[str] = "recommendations"
    user_id: str = _id(required=True)
    items: list[RecommendedItem] = FieldDescriptor(required=True)
    model: str = _text(required=True)
    source_event_id: str = _id(required=True)
    ts: datetime = DatetimeField(required=True)


def recommendation_bytes(
    user_id: str, items: Sequence[tuple[str, float, str, str]], model: str, source_event_id: str, ts: datetime
) -> bytes:
    """The bytes of ``Recommendation(...).dumps()`` for ``items`` as (sku, score, reason, reason_kind),
    without building the Faust records: the per-click hot path (same serializer, a third of the time)."""
    rows = [
        {"sku": sku, "score": score, "reason": reason, "reason_kind": kind}
        for sku, score, reason, kind in items
    ]
    payload = {
        "user_id": user_id,
        "items": rows,
        "model": model,
        "source_event_id": source_event_id,
        "ts": ts,
    }
    return bytes(codecs.dumps("json", payload))


class Restock(Event):
    """``restock`` (key = sku): an order-up-to decision."""

    topic_name: ClassVar[str] = "restock"
    event_id: str = _id(required=True)
    sku: str = _id(required=True)
    quantity: int = IntegerField(min_value=1, required=True)
    on_hand: int = IntegerField(min_value=0, required=True)
    inbound: int = IntegerField(min_value=0, required=True)
    forecast_units: float = _number(min_value=0.0, required=True)
    horizon_minutes: int = IntegerField(min_value=1, required=True)
    service_level: float = _fraction(required=True)
    reason: str = _text(required=True)
    ts: datetime = DatetimeField(required=True)


class DiscountAdjustment(Event):
    """``discount-adjustments`` (key = sku): a new discount for a live campaign."""

    topic_name: ClassVar[str] = "discount-adjustments"
    event_id: str = _id(required=True)
    sku: str = _id(required=True)
    campaign_id: str = _id(required=True)
    old_discount: float = _fraction(required=True)
    new_discount: float = _fraction(required=True)
    projected_sell_through: float = _number(min_value=0.0, required=True)
    reason: str = _text(required=True)
    ts: datetime = DatetimeField(required=True)


class ExperimentResult(Event):
    """``experiment-results`` (key = campaign_id): the holdout experiment's uplift so far, per SKU-minute.

    After each closed campaign bucket (``ts``: its end): the treated (adaptive) SKUs' mean revenue and
    units per campaign minute, their baseline (what the held-out static SKUs' line says they would
    have earned), the uplift = treatment − baseline with its ``level`` confidence interval, and the
    raw control mean for reading."""

    topic_name: ClassVar[str] = "experiment-results"
    event_id: str = _id(required=True)
    campaign_id: str = _id(required=True)
    ts: datetime = DatetimeField(required=True)
    minutes: float = _number(min_value=0.0, required=True)
    n_treatment: int = IntegerField(min_value=2, required=True)
    n_control: int = IntegerField(min_value=2, required=True)
    level: float = _fraction(required=True)
    revenue_treatment: float = _number(required=True)
    revenue_baseline: float = _number(required=True)
    revenue_control: float = _number(required=True)
    revenue_uplift: float = _number(required=True)
    revenue_se: float = _number(min_value=0.0, required=True)
    revenue_lo: float = _number(required=True)
    revenue_hi: float = _number(required=True)
    revenue_df: float = _number(min_value=0.0, required=True)
    revenue_covariates: int = IntegerField(min_value=0, required=True)
    units_treatment: float = _number(required=True)
    units_baseline: float = _number(required=True)
    units_control: float = _number(required=True)
    units_uplift: float = _number(required=True)
    units_se: float = _number(min_value=0.0, required=True)
    units_lo: float = _number(required=True)
    units_hi: float = _number(required=True)
    units_df: float = _number(min_value=0.0, required=True)
    units_covariates: int = IntegerField(min_value=0, required=True)
    reason: str = _text(required=True)


INPUT_RECORDS: tuple[type[Event], ...] = (CatalogItem, Click, Order, StockLevel)
OUTPUT_RECORDS: tuple[type[Event], ...] = (Recommendation, Restock, DiscountAdjustment, ExperimentResult)
RECORDS_BY_TOPIC: dict[str, type[Event]] = {r.topic_name: r for r in INPUT_RECORDS + OUTPUT_RECORDS}
