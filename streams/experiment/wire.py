"""What crosses ``experiment-events``: one record per closed bucket of a held-out campaign's SKU,
keyed by its campaign, and marks.

The per-SKU agent of ``sku-events`` partition *p* sends, each time its watermark moves to *W*, the
closed buckets of its campaign SKUs, then a mark "``skus/p`` has closed every bucket ending by *W*" to
every partition (``kind`` header: ``outcome`` or ``mark``). Records of one partition keep their order,
so once every ``skus/*`` source has marked *W* on a partition, it holds every outcome of the buckets
ending by *W*: the experiment closes them there, never on a wall clock.

>>> from models.policy.control import BucketOutcome
>>> o = BucketOutcome("c1", 600.0, 1200.0, "s1", "control", 660.0, 2.0, 19.0, 20, 9.5)
>>> outcome_of(outcome_value(o)) == o
True
>>> mark_of(mark_value(3, 720.0))
('skus/3', 720.0)
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from models.policy.control import ARMS, BucketOutcome
from streams.runtime.codec import integer, number, optional_number, text

OUTCOME, MARK = "outcome", "mark"
_FIELDS = {f.name for f in fields(BucketOutcome)}


def source_name(partition: int) -> str:
    """The name of ``sku-events`` partition ``partition`` as a source of the experiment."""
    return f"skus/{partition}"


def outcome_value(outcome: BucketOutcome) -> bytes:
    return json.dumps(asdict(outcome), separators=(",", ":")).encode()


def outcome_of(value: bytes) -> BucketOutcome:
    """The outcome of ``value``; ValueError/TypeError when it is not exactly one."""
    data: Any = json.loads(value)
    if not isinstance(data, dict) or set(data) != _FIELDS:
        raise ValueError(f"not a bucket outcome: fields {sorted(data) if isinstance(data, dict) else data!r}")
    if data["arm"] not in ARMS:
        raise ValueError(f"not an arm: {data['arm']!r}")
    stock = data["opening_stock"]
    return BucketOutcome(
        text(data["campaign_id"]), number(data["starts_at"]), number(data["ends_at"]), text(data["sku"]),
        data["arm"], number(data["bucket"]), number(data["units"]), number(data["revenue"]),
        None if stock is None else integer(stock), optional_number(data["base_price"]),
    )  # fmt: skip


def mark_value(partition: int, time: float) -> bytes:
    return json.dumps({"source": source_name(partition), "time": time}).encode()


def mark_of(value: bytes) -> tuple[str, float]:
    """(source, time) of a mark; ValueError/TypeError/KeyError when it is not one."""
    data = json.loads(value)
    return text(data["source"]), number(data["time"])
