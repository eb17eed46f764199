"""Every topic of flashsale-stream, named once and created with the app's namespace prefix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import faust

from streams.contracts.records import DiscountAdjustment, ExperimentResult, Recommendation, Restock
from streams.settings import Settings

CATALOG, CLICKS, ORDERS, STOCK = "catalog", "clicks", "orders", "stock"
RECOMMENDATIONS, RESTOCK, DISCOUNTS = "recommendations", "restock", "discount-adjustments"
DEAD_LETTERS = "dead-letters"
SKU_EVENTS = "sku-events"  # internal: orders, stock and catalog re-keyed by sku, with marks
SKU_STATUS = "sku-status"  # internal, compacted: each SKU's stock, discount and popularity
EXPERIMENT_EVENTS = (
    "experiment-events"  # internal: held-out campaigns' closed buckets by campaign, with marks
)
EXPERIMENT_RESULTS = "experiment-results"  # the holdout experiment's uplift estimates, by campaign
INTERNAL_TOPICS = (SKU_EVENTS, SKU_STATUS, EXPERIMENT_EVENTS)

INPUT_TOPICS = (CATALOG, CLICKS, ORDERS, STOCK)
DECISION_TOPICS = (RESTOCK, DISCOUNTS)
OUTPUT_TOPICS = (RECOMMENDATIONS, *DECISION_TOPICS, EXPERIMENT_RESULTS, DEAD_LETTERS)
# What the worker group consumes: inputs, the re-keyed SKU events and experiment events, and what its
# Postgres sink reads.
GROUP_TOPICS = (*INPUT_TOPICS, SKU_EVENTS, EXPERIMENT_EVENTS, *DECISION_TOPICS, EXPERIMENT_RESULTS)


@dataclass(frozen=True)
class Topics:
    """The app's topic handles; inputs are raw bytes so that bad values can be dead-lettered."""

    catalog: faust.TopicT
    clicks: faust.TopicT
    orders: faust.TopicT
    stock: faust.TopicT
    sku_events: faust.TopicT
    sku_status: faust.TopicT
    experiment_events: faust.TopicT
    experiment_results: faust.TopicT
    recommendations: faust.TopicT
    restock: faust.TopicT
    discounts: faust.TopicT
    dead_letters: faust.TopicT


def define_topics(app: faust.App, settings: Settings) -> Topics:
    """Declare all topics on ``app`` under ``settings.topic_prefix``."""

    def raw(name: str, **kw: Any) -> faust.TopicT:
        return app.topic(
            settings.topic(name),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
            **kw,
        )

    def typed(name: str, record: type[faust.Record]) -> faust.TopicT:
        return app.topic(
            settings.topic(name),
            key_type=str,
            value_type=record,
            key_serializer="raw",
            partitions=settings.topic_partitions,
        )

    return Topics(
        catalog=raw(CATALOG, compacting=True),
        clicks=raw(CLICKS),
        orders=raw(ORDERS),
        stock=raw(STOCK),
        sku_events=raw(SKU_EVENTS),
        sku_status=raw(SKU_STATUS, compacting=True),
        experiment_events=raw(EXPERIMENT_EVENTS),
        experiment_results=typed(EXPERIMENT_RESULTS, ExperimentResult),
        recommendations=typed(RECOMMENDATIONS, Recommendation),
        restock=typed(RESTOCK, Restock),
        discounts=typed(DISCOUNTS, DiscountAdjustment),
        dead_letters=raw(DEAD_LETTERS, retention=timedelta(days=30)),
    )
