"""The per-SKU processor driven directly with plain messages: no broker, no worker (sends recorded)."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams import metrics
from streams.app import create_app
from streams.runtime.forwarding import Control
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import load, state_table
from streams.runtime.tenure import Tenure
from streams.settings import Settings
from streams.skus.processor import SkuProcessor
from streams.skus.state import SKU_CLOCKS, SKU_SLOTS

T0 = 1_762_862_400.0  # 2025-11-11 12:00 UTC, a bucket start
SKU_EVENTS = "sku-events"
P0 = TP(SKU_EVENTS, 0)
SOURCES = ("orders/0", "stock/0", "catalog/0")


class Recorder(Outbox):
    """Sends recorded, not sent; ``on_settle`` runs at each settle (a rebalance can begin there)."""

    def __init__(self, on_settle: Any = None) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.on_settle = on_settle or (lambda: None)

    async def send(self, topic: Any, **kwargs: Any) -> None:
        self.sent.append((topic.get_topic_name(), kwargs))

    async def send_bytes(self, topic: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.sent.append((topic, kwargs))

    async def deliver(self) -> dict[tuple[str, int], int]:
        self.on_settle()
        return {}

    def to(self, topic: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.sent if name == topic]


class Rig:
    """A processor on a bare app's real tables, its outboxes recorded, holding partition 0."""

    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        settings = Settings(data_dir=tmp_path, topic_partitions=1, allowed_lateness_s=5.0, **overrides)
        flashsale = create_app(settings, web=False)
        self.app = SimpleNamespace(rebalancing=False, rebalancing_count=0)
        self.outbox = Recorder()
        self.ranges: list[tuple[int, int]] = []
        self.stored_range: list[Any] = []
        self.slots = state_table(flashsale.app, "sku-slots", SKU_SLOTS)
        self.clocks = state_table(flashsale.app, "sku-clocks", SKU_CLOCKS)
        self.processor = SkuProcessor(settings, flashsale.topics, self.slots, self.clocks,
                                      lambda: self.outbox, self.read_range)  # fmt: skip
        self.offset = 0

    async def read_range(self, settings: Settings, topic: str, partition: int, start: int, end: int) -> list:
        self.ranges.append((start, end))
        return [m for m in self.stored_range if start <= m.offset < end]

    def tenure(self) -> Tenure:
        ownership: Any = SimpleNamespace(app=self.app, losses=Counter(), writing=contextlib.nullcontext)
        return Tenure(ownership, self.app.rebalancing_count, frozenset({P0}), {P0: 0}, 0)

    async def run(self, *messages: Any) -> None:
        await self.processor.process([SimpleNamespace(message=m) for m in messages], self.tenure())

    def next_offset(self, offset: int | None) -> int:
        self.offset = self.offset if offset is None else offset
        self.offset += 1
        return self.offset - 1

    def status(self, sku: str) -> dict[str, Any]:
        return json.loads(self.outbox.to("sku-status")[-1]["value"])


def message(offset: int, value: bytes, headers: list[tuple[str, bytes]], key: bytes | None = None) -> Any:
    return SimpleNamespace(topic=SKU_EVENTS, partition=0, offset=offset, tp=P0, key=key, value=value,
                           headers=headers)  # fmt: skip


def mark(rig: Rig, source: str, t: float, idle: bool = False, offset: int | None = None) -> Any:
    value = json.dumps({"source": source, "time": t, "idle": idle}).encode()
    return message(rig.next_offset(offset), value, [("kind", Control.MARK.encode())])


def forwarded(rig: Rig, kind: str, source_offset: int, t: float, event: dict[str, Any], **kw: Any) -> Any:
    ids = kw.get("ids", [f"e:{event.get('event_id', source_offset)}"])
    source = {"order": "orders/0", "stock": "stock/0", "catalog": "catalog/0"}[kind]
    fields = {"kind": kind, "source": source, "source_offset": source_offset, "event_time": repr(t)}
    headers = [(name, str(value).encode()) for name, value in fields.items()]
    headers.append(("ids", json.dumps(ids).encode()))
    key = kw.get("sku", b"sku-7")
    return message(rig.next_offset(kw.get("offset")), json.dumps(event).encode(), headers, key)


def listing(rig: Rig, t: float = T0) -> Any:
    return forwarded(rig, "catalog", 0, t, {"event_id": "c0", "title": "Phone", "campaign": None})


def order(rig: Rig, source_offset: int, t: float, quantity: int = 1, **kw: Any) -> Any:
    event = {"event_id": f"o{source_offset}", "order_id": f"o{source_offset}", "quantity": quantity,
             "unit_price": 9.5}  # fmt: skip
    return forwarded(rig, "order", source_offset, t, event, **kw)


def all_marked(rig: Rig, t: float, idle: bool = False) -> list[Any]:
    return [mark(rig, source, t, idle) for source in SOURCES]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


async def test_a_bucket_closes_behind_the_watermark_and_its_status_and_state_are_stored(rig: Rig) -> None:
    await rig.run(listing(rig), order(rig, 1, T0 + 10, quantity=2), *all_marked(rig, T0 + 70))
    assert rig.status("sku-7")["units_sold"] == 2
    assert {name for name, _ in rig.outbox.sent} >= {"sku-status", "flashsale-sku-slots-changelog"}
    assert load(rig.slots, "sku-7", 0).state.closed_buckets == 1
    assert load(rig.clocks, "p0", 0).position == rig.offset - 1


async def test_events_wait_until_every_source_has_spoken(rig: Rig) -> None:
    await rig.run(listing(rig), order(rig, 1, T0 + 10), mark(rig, "orders/0", T0 + 70))
    assert rig.outbox.to("sku-status") == []  # stock/0 and catalog/0 have not marked: no watermark
    assert load(rig.slots, "sku-7", 0).inbox.pending


async def test_idle_sources_let_the_watermark_reach_the_active_ones(rig: Rig) -> None:
    idle = metrics.SOURCES_IDLE.labels(partition="0")
    await rig.run(listing(rig), order(rig, 1, T0 + 10), *all_marked(rig, T0 + 20, idle=True))
    assert idle._value.get() == 1  # every source idle, and all it led to stored: a replay may end
    await rig.run(mark(rig, "orders/0", T0 + 70))  # orders active again; the idle ones hold no one back
    assert rig.status("sku-7")["units_sold"] == 1 and idle._value.get() == 0


async def test_a_redelivered_record_and_a_re_forwarded_copy_count_once(rig: Rig) -> None:
    listed = listing(rig)
    first = order(rig, 1, T0 + 10)
    await rig.run(listed, first)
    await rig.run(first)  # the same sku-events offset read again after a restart
    await rig.run(order(rig, 1, T0 + 10), *all_marked(rig, T0 + 70))  # forwarded again: a new offset
    assert rig.status("sku-7")["units_sold"] == 1


async def test_a_producer_duplicate_is_dropped(rig: Rig) -> None:
    await rig.run(listing(rig), order(rig, 1, T0 + 10), order(rig, 2, T0 + 12, ids=["e:o1"]))
    await rig.run(*all_marked(rig, T0 + 70))
    assert rig.status("sku-7")["units_sold"] == 1


async def test_a_late_event_is_a_dead_letter_with_its_source_coordinates(rig: Rig) -> None:
    await rig.run(listing(rig), mark(rig, "orders/0", T0 + 100), order(rig, 7, T0 + 50))
    (letter,) = rig.outbox.to("dead-letters")
    headers = dict(letter["headers"])
    assert headers["error_class"] == b"LateEvent" and headers["source_offset"] == b"7"
    assert headers["source_topic"] == b"orders"


async def test_an_order_for_an_unlisted_sku_is_a_dead_letter_once_due(rig: Rig) -> None:
    await rig.run(order(rig, 1, T0 + 10), *all_marked(rig, T0 + 70))
    (letter,) = rig.outbox.to("dead-letters")
    assert dict(letter["headers"])["error_class"] == b"UnknownSku"


async def test_a_gap_between_state_and_stream_is_read_directly(rig: Rig) -> None:
    stretch = [listing(rig), order(rig, 1, T0 + 10, quantity=3)]  # offsets 0, 1: the state never saw
    rig.stored_range = stretch
    await rig.run(*all_marked(rig, T0 + 70))  # offset 2 arrives first
    assert rig.ranges == [(0, 2)]
    assert rig.status("sku-7")["units_sold"] == 3


async def test_a_rebalance_mid_batch_stores_no_state(rig: Rig) -> None:
    def rebalance() -> None:
        rig.app.rebalancing_count += 1

    rig.outbox.on_settle = rebalance
    await rig.run(listing(rig), order(rig, 1, T0 + 10), *all_marked(rig, T0 + 70))
    assert [name for name, _ in rig.outbox.sent if name.endswith("-changelog")] == []
    assert load(rig.slots, "sku-7", 0) is None and load(rig.clocks, "p0", 0) is None


async def test_a_record_no_forwarder_wrote_is_a_dead_letter_not_a_crash(rig: Rig) -> None:
    await rig.run(message(rig.next_offset(None), b"{}", [("kind", b"order")], b"sku-7"))
    (letter,) = rig.outbox.to("dead-letters")
    assert dict(letter["headers"])["error_class"] == b"KeyError"


async def test_with_a_holdout_closed_buckets_go_to_the_experiment_before_the_partitions_mark(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from streams.experiment.wire import mark_of, outcome_of

    rig = Rig(tmp_path, holdout_share=1.0)  # every campaign SKU held out
    iso = lambda t: datetime.fromtimestamp(t, UTC).isoformat()  # noqa: E731
    campaign = {"campaign_id": "c9", "starts_at": iso(T0 + 60), "ends_at": iso(T0 + 3600), "discount": 0.2,
                "min_discount": 0.1, "max_discount": 0.5, "restock_lead_minutes": 10}  # fmt: skip
    catalog = {"event_id": "c0", "title": "Phone", "base_price": 12.0, "campaign": campaign}
    stock = {"event_id": "s0", "on_hand": 20, "inbound": 0}
    await rig.run(forwarded(rig, "catalog", 0, T0, catalog), forwarded(rig, "stock", 0, T0, stock),
                  order(rig, 1, T0 + 70, quantity=2), *all_marked(rig, T0 + 125))  # fmt: skip
    sent = rig.outbox.to("experiment-events")
    kinds = [dict(kw["headers"])["kind"] for kw in sent]
    assert kinds == [b"outcome", b"outcome", b"mark"]  # minutes 0 and 1, then skus/0 marks them closed
    pre, first = (outcome_of(kw["value"]) for kw in sent[:2])
    assert (pre.bucket, pre.units, first.units, first.revenue) == (T0, 0.0, 2.0, 19.0)
    assert first.arm == "control" and first.opening_stock == 20 and sent[0]["key"] == b"c9"
    assert mark_of(sent[2]["value"]) == ("skus/0", T0 + 120) and sent[2]["partition"] == 0
    assert rig.status("sku-7")["holdout_arm"] == "control"


async def test_without_a_holdout_nothing_goes_to_the_experiment(rig: Rig) -> None:
    await rig.run(listing(rig), order(rig, 1, T0 + 10), *all_marked(rig, T0 + 70))
    assert rig.outbox.to("experiment-events") == [] and "holdout_arm" not in rig.status("sku-7")


async def test_a_moving_watermark_reads_only_the_skus_with_work_behind_it(rig: Rig) -> None:
    read: list[str] = []
    slot = rig.processor.slot
    rig.processor.slot = lambda sku, *args: read.append(sku) or slot(sku, *args)  # type: ignore[method-assign]
    lamp = {"event_id": "c1", "title": "Lamp", "campaign": None}
    await rig.run(listing(rig), forwarded(rig, "catalog", 1, T0, lamp, sku=b"sku-8"), order(rig, 1, T0 + 10),
                  *all_marked(rig, T0 + 70))  # fmt: skip
    assert [load(rig.slots, sku, 0).state.closed_buckets for sku in ("sku-7", "sku-8")] == [1, 1]
    read.clear()
    await rig.run(order(rig, 2, T0 + 75), *all_marked(rig, T0 + 90))  # only sku-7 has an event due
    assert read == ["sku-7", "sku-7"]  # received, then brought up to the watermark
    read.clear()
    await rig.run(*all_marked(rig, T0 + 100))  # nothing due: both buckets close at T0 + 120
    assert read == []
    await rig.run(*all_marked(rig, T0 + 125))  # both buckets close, though neither had an event
    assert sorted(read) == ["sku-7", "sku-8"] and len(rig.outbox.to("sku-status")) == 4
    assert load(rig.slots, "sku-7", 0).state.units_sold == 2
    read.clear()
    rig.app.rebalancing_count += 1  # the tables may have been restored: every SKU is read once again
    await rig.run(*all_marked(rig, T0 + 130))
    assert sorted(read) == ["sku-7", "sku-8"]


async def test_a_watermark_that_closes_many_buckets_stores_slots_as_it_goes(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streams.skus.processor.SLOTS_HELD", 2)
    slots_changelog = "flashsale-sku-slots-changelog"
    stored_at_settle: list[int] = []
    rig.outbox.on_settle = lambda: stored_at_settle.append(len(rig.outbox.to(slots_changelog)))
    listings = [forwarded(rig, "catalog", n, T0, {"event_id": f"c{n}", "title": "Lamp", "campaign": None},
                          sku=f"sku-{n}".encode()) for n in range(5)]  # fmt: skip
    await rig.run(*listings, *all_marked(rig, T0 + 70))
    assert [load(rig.slots, f"sku-{n}", 0).state.closed_buckets for n in range(5)] == [1] * 5
    changelogs = [name for name, _ in rig.outbox.sent if name.endswith("-changelog")]
    assert changelogs.count(slots_changelog) == 5
    assert changelogs[-1] == "flashsale-sku-clocks-changelog"  # the clock after every slot
    assert 2 in stored_at_settle and 4 in stored_at_settle  # stored two at a time, not all at the end
