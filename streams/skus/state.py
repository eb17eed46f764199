"""What the SKU path keeps in its tables, and the explicit encoding of each value (no pickle).

``sku-slots`` holds one :class:`SkuSlot` per SKU (inbox, model state and recent ids in one value, so a
crash never splits them); ``sku-clocks`` one :class:`PartitionClock` per partition of ``sku-events``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from models.policy.campaign_demand import CampaignDemand
from models.policy.sku_state import SkuState
from streams.runtime.clock import Inbox, PartitionClock, Pending, SourceMark, SourceTimes
from streams.runtime.codec import (
    StateCodec,
    binary,
    integer,
    number,
    optional_number,
    str_map,
    text,
    texts,
)
from streams.runtime.dedup import RecentIds


@dataclass
class SkuSlot:
    """All state of one SKU in one table value, so that a crash can never split it."""

    inbox: Inbox
    state: SkuState
    seen: RecentIds = field(default_factory=RecentIds)  # ids applied lately: re-sent copies are dropped


def slot_to_plain(slot: SkuSlot) -> dict[str, Any]:
    return {
        "pending": [list(event) for event in slot.inbox.pending],
        "received": slot.inbox.received,
        "state": slot.state.to_state(),
        "seen": slot.seen.to_plain(),
    }


def slot_from_plain(body: dict[str, Any]) -> SkuSlot:
    pending = [
        Pending(number(t), integer(rank), text(source), integer(offset), binary(value), optional_binary(key))
        for t, rank, source, offset, value, key in body["pending"]
    ]
    inbox = Inbox(pending, str_map(body["received"], integer))
    return SkuSlot(inbox, SkuState.from_state(body["state"]), RecentIds.from_plain(body["seen"]))


def slot_from_plain_v3(body: dict[str, Any]) -> SkuSlot:
    """A slot of version 3 (recent ids kept as strings): their digests."""
    return slot_from_plain({**body, "seen": RecentIds.of(str_map(body["seen"], number)).to_plain()})


def slot_from_plain_v2(body: dict[str, Any]) -> SkuSlot:
    """A slot of version 2 (the holdout's fields, before the campaign-aware demand model): its price
    response (another model) is dropped and the new model starts afresh; the live discount is taken to
    be ours."""
    state = {k: v for k, v in body["state"].items() if k != "price_response"}
    state |= {
        "live_discount": state["discount"],
        "supplier_short_at": None,
        "demand": asdict(CampaignDemand()),
    }
    return slot_from_plain_v3({**body, "state": state})


def slot_from_plain_v1(body: dict[str, Any]) -> SkuSlot:
    """A slot of version 1 (before the holdout experiment): no opening stock, base price or revenue of
    the open bucket were kept (the next stock level counts as the opening stock); then as version 2."""
    state = {**body["state"], "opening_stock": None, "base_price": None, "bucket_revenue": 0.0}
    return slot_from_plain_v2({**body, "state": state})


def optional_binary(value: Any) -> bytes | None:
    return None if value is None else binary(value)


def clock_to_plain(clock: PartitionClock) -> dict[str, Any]:
    return {
        "expected": list(clock.expected),
        "lateness_s": clock.lateness_s,
        "marks": {source: [mark.time, mark.idle] for source, mark in clock.marks.items()},
        "current": clock.current,
        "skus": sorted(clock.skus),
        "position": clock.position,
        "received": clock.received.latest,
    }


def clock_from_plain(body: dict[str, Any]) -> PartitionClock:
    return PartitionClock(
        expected=tuple(texts(body["expected"])),
        lateness_s=number(body["lateness_s"]),
        marks=str_map(body["marks"], mark_from_plain),
        current=optional_number(body["current"]),
        skus=set(texts(body["skus"])),
        position=integer(body["position"]),
        received=SourceTimes(str_map(body["received"], number)),
    )


def mark_from_plain(body: Any) -> SourceMark:
    """A source's ``[time, idle]``."""
    t, idle = body
    return SourceMark(number(t), bool(idle))


# v1: before the holdout; v2: + the holdout's opening stock, base price, bucket revenue; v3: + the
# campaign-aware demand model (instead of the price response), the live discount, the supplier's shortfall;
# v4: recent ids as digests (streams.runtime.dedup).
SKU_SLOTS = StateCodec(
    "sku-slot", 4, slot_to_plain, slot_from_plain,
    older={1: slot_from_plain_v1, 2: slot_from_plain_v2, 3: slot_from_plain_v3},
)  # fmt: skip
SKU_CLOCKS = StateCodec("sku-clock", 1, clock_to_plain, clock_from_plain)
