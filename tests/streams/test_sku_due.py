"""Which SKUs a moving watermark visits (streams/skus/due.py)."""

from __future__ import annotations

import math

from models.policy.sku_state import SkuState
from streams.runtime.clock import Inbox
from streams.skus.due import DueTimes, next_work
from streams.skus.state import SkuSlot


def slot(bucket_start: float | None = None, pending_at: tuple[float, ...] = ()) -> SkuSlot:
    inbox = Inbox()
    for n, t in enumerate(pending_at):
        inbox.accept("orders/0", n, t, "order", b"{}")
    state = SkuState("sku-1")
    state.bucket_start = bucket_start
    return SkuSlot(inbox, state)


def test_next_work_is_the_earliest_pending_event_or_the_end_of_the_open_bucket() -> None:
    assert next_work(slot()) == math.inf  # nothing received yet
    assert next_work(slot(bucket_start=600.0)) == 660.0
    assert next_work(slot(bucket_start=600.0, pending_at=(640.0, 630.0))) == 630.0
    assert next_work(slot(bucket_start=600.0, pending_at=(700.0,))) == 660.0


def test_an_unknown_partition_visits_every_sku_then_only_those_with_work() -> None:
    due = DueTimes()
    due.begin(generation=0)
    assert due.due(0, {"b", "a"}, watermark=100.0) == ["a", "b"]
    due.visited(0, "a", slot(bucket_start=60.0))  # closes at 120
    due.visited(0, "b", slot(bucket_start=120.0))  # closes at 180
    assert due.due(0, {"a", "b"}, watermark=110.0) == []
    assert due.due(0, {"a", "b"}, watermark=120.0) == ["a"]
    due.received(0, "b", 105.0)  # an event behind the watermark
    due.received(0, "c", 300.0)  # a new SKU
    assert due.due(0, {"a", "b", "c"}, watermark=120.0) == ["a", "b"]
    assert due.due(1, {"x"}, watermark=120.0) == ["x"]  # another partition: not known yet


def test_a_new_rebalance_generation_or_an_interrupted_batch_forgets_every_time() -> None:
    due = DueTimes()
    due.begin(generation=3)
    due.due(0, {"a"}, 100.0)
    due.visited(0, "a", slot(bucket_start=60.0))
    due.begin(generation=3)
    assert due.due(0, {"a"}, 110.0) == []
    due.begin(generation=4)
    assert due.due(0, {"a"}, 110.0) == ["a"]
    due.visited(0, "a", slot(bucket_start=60.0))
    due.forget()
    due.begin(generation=4)
    assert due.due(0, {"a"}, 110.0) == ["a"]
