"""Agents in Faust's test context: decode, forward, dead-letter (no broker)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from unittest.mock import AsyncMock

import pytest
from faust.types import TP

from streams.app import Flashsale
from streams.settings import Settings
from streams.worker import pipeline_app

TS = datetime(2026, 11, 11, 12, tzinfo=UTC)
ORDER = {
    "event_id": "e1", "order_id": "o1", "user_id": "u1", "sku": "sku-7",
    "quantity": 2, "unit_price": 9.5, "ts": TS.isoformat(),
}  # fmt: skip


def stored(**_: object) -> asyncio.Future[None]:
    """What a send returns: its delivery, here already confirmed by the (absent) broker."""
    delivery = asyncio.get_running_loop().create_future()
    delivery.set_result(None)
    return delivery


def unit_app(settings: Settings) -> Flashsale:
    """An app under ``settings`` whose outputs are captured and which holds every orders partition."""
    fs = pipeline_app(settings, web=False)
    fs.app.finalize()
    # Outputs are captured at the topic boundary; what reaches Kafka is the integration tier's job.
    object.__setattr__(fs.topics.sku_events, "send", AsyncMock(side_effect=stored))
    object.__setattr__(fs.topics.dead_letters, "send", AsyncMock(side_effect=stored))
    # No consumer group runs here: this worker holds every partition of the orders topic.
    held = {TP(fs.topics.orders.get_topic_name(), p) for p in range(fs.settings.topic_partitions)}
    object.__setattr__(fs.app.consumer, "assignment", lambda: held)
    return fs


@pytest.fixture
def fs() -> Flashsale:
    return unit_app(Settings(topic_prefix="unit", stream_batch_wait_ms=10))


async def test_valid_order_is_rekeyed_by_sku_then_marked(fs: Flashsale) -> None:
    async with fs.app.agents["forward-order"].test_context() as agent:
        await agent.put(json.dumps(ORDER).encode(), key=b"u1", partition=2, timestamp=TS.timestamp())
    first, *marks = [c.kwargs for c in fs.topics.sku_events.send.await_args_list]
    assert first["key"] == b"sku-7" and json.loads(first["value"]) == ORDER
    headers = dict(first["headers"])
    assert headers["kind"] == b"order" and headers["source"] == b"orders/2"
    assert float(headers["event_time"]) == TS.timestamp()
    assert json.loads(headers["ids"]) == ["e:e1", "o:o1"]  # how the per-SKU agent knows a re-sent copy
    # then one event-time mark per partition of sku-events, vouching for orders/2 up to TS
    assert sorted(m["partition"] for m in marks) == list(range(fs.settings.topic_partitions))
    assert json.loads(marks[0]["value"]) == {"source": "orders/2", "time": TS.timestamp(), "idle": False}
    fs.topics.dead_letters.send.assert_not_awaited()


@pytest.mark.parametrize("mode", ["kafka", "payload"])
async def test_a_backfilled_order_sent_30_hours_late_needs_payload_time(mode: str) -> None:
    """kcat stamps the send time: 30 h after the order. Payload mode forwards it at its own time (the
    event_time header and the mark say so); the contract's mode dead-letters it, with the reason."""
    fs = unit_app(Settings(topic_prefix="unit", stream_batch_wait_ms=10, event_time=mode))
    sent = TS.timestamp() + 30 * 3600
    async with fs.app.agents["forward-order"].test_context() as agent:
        await agent.put(json.dumps(ORDER).encode(), key=b"u1", partition=1, timestamp=sent)
    forwarded = [c.kwargs for c in fs.topics.sku_events.send.await_args_list if c.kwargs.get("key")]
    if mode == "kafka":
        assert forwarded == []
        headers = dict(fs.topics.dead_letters.send.await_args.kwargs["headers"])
        assert b"away from the Kafka timestamp" in headers["error_message"]
        assert b"FLASHSALE_EVENT_TIME=payload" in headers["error_message"]
        return
    assert len(forwarded) == 1 and float(dict(forwarded[0]["headers"])["event_time"]) == TS.timestamp()
    assert forwarded[0]["timestamp"] == TS.timestamp()  # sku-events are stamped with event time
    marks = [json.loads(c.kwargs["value"]) for c in fs.topics.sku_events.send.await_args_list[1:]]
    assert marks and all(m == {"source": "orders/1", "time": TS.timestamp(), "idle": False} for m in marks)
    fs.topics.dead_letters.send.assert_not_awaited()


async def test_bad_order_goes_to_dead_letters_and_the_next_good_one_passes(fs: Flashsale) -> None:
    async with fs.app.agents["forward-order"].test_context() as agent:
        await agent.put(json.dumps(ORDER | {"quantity": -1}).encode(), key=b"u1", timestamp=TS.timestamp())
        await agent.put(json.dumps(ORDER).encode(), key=b"u1", timestamp=TS.timestamp())
    dead = fs.topics.dead_letters.send.await_args.kwargs
    headers = dict(dead["headers"])
    assert dead["key"] == b"u1" and headers["source_topic"] == b"unit.orders"
    assert headers["error_class"] == b"InvalidEvent"
    assert b"quantity must be >= 1" in headers["error_message"]
    forwarded = [c.kwargs for c in fs.topics.sku_events.send.await_args_list if c.kwargs.get("key")]
    assert len(forwarded) == 1


async def test_an_order_just_under_a_megabyte_is_dead_lettered_cut_to_fit(fs: Flashsale) -> None:
    huge = json.dumps(ORDER | {"padding": "p" * 999_500}).encode()
    async with fs.app.agents["forward-order"].test_context() as agent:
        await agent.put(huge, key=b"u1", timestamp=TS.timestamp())
        await agent.put(json.dumps(ORDER).encode(), key=b"u1", timestamp=TS.timestamp())
    dead = fs.topics.dead_letters.send.await_args.kwargs
    headers = dict(dead["headers"])
    assert headers["truncated"] == b"true" and headers["original_size"] == str(len(huge)).encode()
    assert huge.startswith(dead["value"]) and len(dead["value"]) < len(huge)
    forwarded = [c.kwargs for c in fs.topics.sku_events.send.await_args_list if c.kwargs.get("key")]
    assert len(forwarded) == 1  # the good order behind it


async def test_a_valid_order_too_large_to_forward_is_a_dead_letter_not_a_crash(fs: Flashsale) -> None:
    async with fs.app.agents["forward-order"].test_context() as agent:
        await agent.put(json.dumps(ORDER).encode(), key=b"u" * 999_000, timestamp=TS.timestamp())
        await agent.put(json.dumps(ORDER).encode(), key=b"u1", timestamp=TS.timestamp())
    dead = fs.topics.dead_letters.send.await_args.kwargs
    headers = dict(dead["headers"])
    assert headers["error_class"] == b"TooLarge" and b"too large to forward" in headers["error_message"]
    assert json.loads(dead["value"]) == ORDER and headers["original_key_size"] == b"999000"
    assert "original_size" not in headers  # the value is whole
    forwarded = [c.kwargs for c in fs.topics.sku_events.send.await_args_list if c.kwargs.get("key")]
    assert [(f["key"], dict(f["headers"])["source_key"]) for f in forwarded] == [(b"sku-7", b"u1")]


async def test_a_stretch_the_stream_skipped_is_forwarded_before_the_order_after_it(fs: Flashsale) -> None:
    """Forwarded after the order behind it, the skipped ones would reach their SKU as redeliveries."""
    skipped = {o: ORDER | {"event_id": f"e{o + 1}", "order_id": f"o{o + 1}"} for o in (1, 2)}
    asked = []

    async def read(topic: str, partition: int, start: int, stop: int) -> list[SimpleNamespace]:
        asked.append((topic, partition, start, stop))
        return [SimpleNamespace(topic=topic, partition=partition, offset=o, key=b"u1", headers=[],
                                value=json.dumps(skipped[o]).encode(), timestamp=TS.timestamp() * 1000)
                for o in range(start, stop)]  # fmt: skip

    fs.forwarders["unit.orders"].read = read
    async with fs.app.agents["forward-order"].test_context() as agent:
        await agent.put(json.dumps(ORDER).encode(), key=b"u1", partition=0, timestamp=TS.timestamp())
        agent.sent_offset = 3  # offsets 1 and 2 never reach the stream
        after = ORDER | {"event_id": "e4", "order_id": "o4"}
        await agent.put(json.dumps(after).encode(), key=b"u1", partition=0, timestamp=TS.timestamp())
    forwarded = [c.kwargs for c in fs.topics.sku_events.send.await_args_list if c.kwargs.get("key")]
    assert [dict(f["headers"])["source_offset"] for f in forwarded] == [b"0", b"1", b"2", b"3"]
    assert [json.loads(f["value"])["event_id"] for f in forwarded] == ["e1", "e2", "e3", "e4"]
    assert asked == [("unit.orders", 0, 1, 3)]
