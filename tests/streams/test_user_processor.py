"""The user path's batch logic, driven directly: plain messages in, recommendations, dead letters and
written slots out (a real state table on a bare app; no broker, no worker)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock

import numpy as np
import pytest
from faust.types import TP

from streams import metrics
from streams.app import create_app
from streams.contracts.records import Campaign, CatalogItem, Click, Order
from streams.runtime.dedup import digest
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import load, state_table
from streams.runtime.tenure import Ownership, Tenure
from streams.settings import Settings
from streams.users.catalog_view import CatalogView
from streams.users.processor import UserProcessor
from streams.users.state import USER_POSITIONS, USER_SLOTS, UserSlot

T0 = datetime(2026, 11, 11, 12, tzinfo=UTC)
VECTORS = {"earbuds": [1.0, 0.0], "kettle": [0.0, 1.0], "wireless earbuds": [0.8, 0.6]}
CLICKS0, CLICKS1, ORDERS0 = TP("clicks", 0), TP("clicks", 1), TP("orders", 0)


class Scorer:
    """A stand-in for BertScorer: a fixed vector per title or query."""

    dim = 2
    model_name = "stub-encoder"

    def __init__(self) -> None:
        self.query_cache = SimpleNamespace(misses=0)
        self.while_encoding = lambda: None  # what happens while the batch's queries are encoded

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([VECTORS[t] for t in texts], dtype=np.float32)

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        self.query_cache.misses += len(set(queries))
        self.while_encoding()
        return self.encode_batch(queries)


class Recorder(Outbox):
    """An outbox that keeps what is sent as bytes (recommendations, state) instead of batching it, and
    when it was settled."""

    def __init__(self, sent: list[SimpleNamespace]) -> None:
        super().__init__()
        self.sent = sent

    async def send_bytes(self, topic: str, *, value: bytes, key: bytes | None = None, **kw: Any) -> None:
        self.sent.append(SimpleNamespace(topic=topic, key=key, value=value, **kw))

    async def deliver(self) -> dict[tuple[str, int], int]:
        self.sent.append(SimpleNamespace(topic="(settled)"))
        return await super().deliver()


def stored(**_: object) -> asyncio.Future[None]:
    delivery = asyncio.get_running_loop().create_future()
    delivery.set_result(None)
    return delivery


def item(sku: str, title: str) -> CatalogItem:
    campaign = Campaign(
        campaign_id="c1", starts_at=T0 - timedelta(hours=1), ends_at=T0 + timedelta(hours=1),
        discount=0.2, min_discount=0.1, max_discount=0.5, restock_lead_minutes=20,
    )  # fmt: skip
    return CatalogItem(
        sku=sku, title=title, category="audio", base_price=10.0, updated_at=T0, campaign=campaign
    )


def click(offset: int, at_s: float = 0.0, sku: str | None = "A", **fields: Any) -> tuple[Any, Click]:
    """A decoded click of user u1 (unless ``user_id`` says otherwise) at T0 + ``at_s``, and its event."""
    values = {"event_id": f"e{offset}", "user_id": "u1", "action": "click", "sku": sku} | fields
    return event(Click(ts=T0 + timedelta(seconds=at_s), **values), "clicks", offset)


def event(record: Any, topic: str, offset: int, partition: int = 0) -> tuple[Any, Any]:
    message = SimpleNamespace(
        topic=topic, partition=partition, offset=offset, tp=TP(topic, partition), key=record.user_id.encode(),
        value=record.dumps(), headers=[], timestamp=record.ts.timestamp(),
    )  # fmt: skip
    return SimpleNamespace(message=message), record


class Harness:
    """A processor on a bare app, with its sends recorded; it holds clicks 0 and 1 and orders 0."""

    def __init__(self, tmp_path: Path) -> None:
        flashsale = create_app(Settings(data_dir=tmp_path), web=False)
        self.users = state_table(flashsale.app, "users", USER_SLOTS)
        self.positions = state_table(flashsale.app, "user-positions", USER_POSITIONS)
        self.scorer, view = Scorer(), CatalogView()
        view.attach(self.scorer)  # type: ignore[arg-type]
        view.apply_catalog([item("A", "earbuds"), item("B", "kettle")])
        self.sent: list[SimpleNamespace] = []
        self.dead_letters = flashsale.topics.dead_letters
        object.__setattr__(self.dead_letters, "send", AsyncMock(side_effect=stored))
        self.log: list[tuple[Any, Any]] = []  # what the broker holds, for stretches read directly
        self.reads: list[tuple[str, int, int, int]] = []
        self.processor = UserProcessor(
            self.users, self.positions, view, flashsale.settings, lambda: Recorder(self.sent),
            "recommendations", read_range=self.read_range,
        )  # fmt: skip
        self.ownership = Ownership(flashsale.app)
        held = frozenset({CLICKS0, CLICKS1, ORDERS0})
        self.tenure = Tenure(self.ownership, 0, held, dict.fromkeys(held, 0), 0)

    async def run(
        self, *events: tuple[Any, Any], agent: str = "user-clicks", dead: bool = True
    ) -> frozenset[TP]:
        return await self.processor.process(agent, events, self.dead_letters if dead else None, self.tenure)

    async def read_range(self, _: Settings, topic: str, partition: int, start: int, stop: int) -> list[Any]:
        """The records of the harness's log in the range, as aiokafka returns them (times in ms)."""
        self.reads.append((topic, partition, start, stop))
        messages = [e.message for e, _ in self.log]
        return [
            SimpleNamespace(**{**m.__dict__, "timestamp": int(m.timestamp * 1000)})
            for m in messages
            if (m.topic, m.partition) == (topic, partition) and start <= m.offset < stop
        ]

    def recommendations(self) -> list[dict[str, Any]]:
        return [json.loads(sent.value) for sent in self.sent if sent.topic == "recommendations"]

    def writes(self) -> list[tuple[bytes, int]]:
        changelog = self.users.changelog_topic.get_topic_name()
        return [(sent.key, sent.partition) for sent in self.sent if sent.topic == changelog]

    def slot(self, user_id: str = "u1") -> UserSlot:
        slot = load(self.users, user_id, 0)
        assert slot is not None
        return slot

    def dead_lettered(self) -> list[dict[str, bytes]]:
        return [dict(call.kwargs["headers"]) for call in self.dead_letters.send.await_args_list]


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def count(counter: Any, **labels: str) -> float:
    return float(counter.labels(**labels)._value.get())


async def test_a_click_moves_its_user_and_recommends_before_the_slot_is_written(harness: Harness) -> None:
    await harness.run(click(0, sku="A"))
    slot = harness.slot()
    assert np.allclose(slot.vector.embedding(), [1.0, 0.0]) and slot.received == {"clicks/0": 0}
    (recommendation,) = harness.recommendations()
    assert recommendation["user_id"] == "u1" and recommendation["source_event_id"] == "e0"
    assert recommendation["model"] == "stub-encoder" and recommendation["ts"] == "2026-11-11T12:00:00Z"
    items = [(i["sku"], i["reason_kind"], i["reason"]) for i in recommendation["items"]]
    assert items == [  # something new first; what was just clicked only fills the list
        ("B", "popular", "on sale now"),  # one click weighs less than the sale's prior: no sales yet
        ("A", "popular", "on sale now"),
    ]
    users, positions = (t.changelog_topic.get_topic_name() for t in (harness.users, harness.positions))
    assert [sent.topic for sent in harness.sent] == [  # each stored before the next is sent
        "recommendations", "(settled)", users, "(settled)", positions, "(settled)"
    ]  # fmt: skip
    assert harness.writes() == [(b'"u1"', 0)] and harness.dead_lettered() == []
    assert load(harness.positions, "clicks/0", 0) == 0


async def test_a_search_moves_the_user_by_its_query_encoded_once_per_batch(harness: Harness) -> None:
    search = {"action": "search", "sku": None, "query": "wireless earbuds"}
    await harness.run(click(0, **search), click(1, at_s=1, **search))
    assert harness.scorer.query_cache.misses == 1
    assert np.allclose(harness.slot().vector.embedding(), [0.8, 0.6], atol=1e-6)


async def test_a_redelivered_offset_changes_nothing(harness: Harness) -> None:
    await harness.run(click(0, sku="A"))
    before = harness.slot().vector
    await harness.run(click(0, at_s=10, sku="B", event_id="other"))
    after = harness.slot().vector
    assert after.weight == before.weight and np.array_equal(after.mean, before.mean)
    assert len(harness.recommendations()) == 1 and harness.dead_lettered() == []


async def test_a_producer_duplicate_at_a_new_offset_is_dropped_and_counted(harness: Harness) -> None:
    before = count(metrics.DUPLICATES, agent="user-clicks", topic="clicks")
    await harness.run(click(0, event_id="e1"), click(1, at_s=10, sku="B", event_id="e1"))
    assert count(metrics.DUPLICATES, agent="user-clicks", topic="clicks") == before + 1
    assert np.allclose(harness.slot().vector.embedding(), [1.0, 0.0])  # the copy moved nothing
    assert harness.slot().received == {"clicks/0": 1}  # but its offset is behind us
    assert len(harness.recommendations()) == 1 and harness.dead_lettered() == []


async def test_a_late_click_is_dead_lettered_with_its_reason(harness: Harness) -> None:
    before = count(metrics.DEAD_LETTERS, topic="clicks", error="LateEvent")
    await harness.run(click(0, at_s=60), click(1, at_s=0, sku="B"))
    (headers,) = harness.dead_lettered()
    assert headers["error_class"] == b"LateEvent" and headers["source_offset"] == b"1"
    assert b"60 s behind this user's latest event from clicks/0" in headers["error_message"]
    assert count(metrics.DEAD_LETTERS, topic="clicks", error="LateEvent") == before + 1
    assert np.allclose(harness.slot().vector.embedding(), [1.0, 0.0])


async def test_a_click_on_an_unlisted_sku_is_dead_lettered_even_as_a_copy(harness: Harness) -> None:
    before = count(metrics.DUPLICATES, agent="user-clicks", topic="clicks")
    await harness.run(click(0, event_id="e1"), click(1, sku="Z", event_id="e1"))  # a copy with its own defect
    (headers,) = harness.dead_lettered()
    assert headers["error_class"] == b"UnknownSku" and b"unknown sku 'Z'" in headers["error_message"]
    assert count(metrics.DUPLICATES, agent="user-clicks", topic="clicks") == before
    assert len(harness.recommendations()) == 1


async def test_a_late_order_is_dropped_without_a_dead_letter_and_orders_move_users(harness: Harness) -> None:
    def order(offset: int, at_s: float, sku: str) -> tuple[Any, Order]:
        fields = {"event_id": f"e{offset}", "order_id": f"o{offset}", "quantity": 1, "unit_price": 9.5}
        return event(
            Order(user_id="u1", sku=sku, ts=T0 + timedelta(seconds=at_s), **fields), "orders", offset
        )

    await harness.run(order(0, 60, "B"), order(1, 0, "A"), agent="user-orders", dead=False)
    assert harness.dead_lettered() == [] and np.allclose(harness.slot().vector.embedding(), [0.0, 1.0])
    assert harness.slot().received == {"orders/0": 1} and len(harness.recommendations()) == 1


async def test_a_partition_lost_while_bert_runs_is_neither_applied_nor_written(harness: Harness) -> None:
    harness.scorer.while_encoding = lambda: harness.ownership.losses.update([CLICKS0])
    other = event(Click(event_id="e9", user_id="u2", action="click", sku="B", ts=T0), "clicks", 5, 1)
    kept = await harness.run(click(0, action="search", sku=None, query="wireless earbuds"), other)
    assert CLICKS0 not in kept and CLICKS1 in kept  # the agent withholds the acks of clicks/0's events
    assert load(harness.users, "u1", 0) is None and harness.writes() == [(b'"u2"', 1)]
    assert [r["user_id"] for r in harness.recommendations()] == ["u2"]


async def test_a_partition_lost_before_the_write_keeps_its_outputs_not_its_state(harness: Harness) -> None:
    kept = harness.tenure.kept

    async def lost_in_a_rebalance() -> frozenset[TP]:
        harness.ownership.losses.update([CLICKS0])
        return await kept()

    harness.tenure.kept = lost_in_a_rebalance  # type: ignore[method-assign]
    await harness.run(click(0))
    assert len(harness.recommendations()) == 1  # stored: a redelivery re-sends the same record
    assert load(harness.users, "u1", 0) is None and harness.writes() == []


async def test_a_click_within_the_debounce_moves_the_user_but_is_not_recommended(harness: Harness) -> None:
    await harness.run(click(0, at_s=0, sku="A"), click(1, at_s=4.9, sku="B"))
    assert len(harness.recommendations()) == 1 and harness.slot().recommended_at == T0.timestamp()
    assert harness.slot().vector.embedding()[1] > 0  # the kettle counted
    await harness.run(click(2, at_s=5.0, sku="B"))
    assert [r["source_event_id"] for r in harness.recommendations()] == ["e0", "e2"]


async def test_a_bought_item_is_never_recommended_again(harness: Harness) -> None:
    bought = Order(event_id="o1", order_id="o1", user_id="u1", sku="A", quantity=1, unit_price=10.0, ts=T0)
    await harness.run(event(bought, "orders", 0), agent="user-orders", dead=False)
    await harness.run(click(1, at_s=10.0, sku="B"))
    assert harness.slot().bought == ["A"]
    assert [[i["sku"] for i in r["items"]] for r in harness.recommendations()] == [["B"], ["B"]]


async def test_a_batch_recommends_each_user_as_of_their_own_event(tmp_path: Path) -> None:
    def events() -> list[tuple[Any, Click]]:
        return [
            click(0, at_s=0, sku="A"), click(1, at_s=1, sku="B", user_id="u2", event_id="x1"),
            click(2, at_s=6, sku="B"), click(3, at_s=7, sku=None, action="search", query="wireless earbuds",
            user_id="u3", event_id="x3"),
        ]  # fmt: skip

    batched, alone = Harness(tmp_path / "batched"), Harness(tmp_path / "alone")
    await batched.run(*events())
    for one in events():
        await alone.run(one)
    assert [r["source_event_id"] for r in batched.recommendations()] == ["e0", "x1", "e2", "x3"]
    assert batched.recommendations() == alone.recommendations()  # u1's first list knows nothing of e2


async def test_a_minutes_candidates_are_taken_once_for_all_its_batches(harness: Harness) -> None:
    view = harness.processor.view
    taken: list[float] = []
    candidates = view.candidates
    view.candidates = lambda ts: taken.append(ts) or candidates(ts)  # type: ignore[method-assign]
    await harness.run(click(0, at_s=1, sku="A"))
    await harness.run(click(1, at_s=10, sku="B", user_id="u2", event_id="x1"))  # the same minute
    await harness.run(click(2, at_s=61, sku="B"))  # the next one
    view.apply_catalog([item("C", "kettle")])  # a catalog change: the minute's candidates again
    await harness.run(click(3, at_s=62, sku="A", user_id="u3", event_id="x3"))
    assert [t - T0.timestamp() for t in taken] == [1, 61, 62] and len(harness.recommendations()) == 4


async def test_a_stretch_the_state_never_applied_is_read_before_the_record_after_it(harness: Harness) -> None:
    """The stream resumes past the state (a recovery restored an older one): the stretch between is
    read from the broker and applied first, in order."""
    harness.log = [click(0), click(1, at_s=1, sku="B"), click(2, at_s=2, user_id="u2"), click(3, at_s=9)]
    await harness.run(harness.log[0])
    await harness.run(harness.log[3])
    assert harness.reads == [("clicks", 0, 1, 3)]
    assert harness.slot().received == {"clicks/0": 3} and set(harness.slot().seen.ids) == set(map(
        digest, ("clicks:e:e0", "clicks:e:e1", "clicks:e:e3")
    ))  # fmt: skip
    assert harness.slot("u2").received == {"clicks/0": 2}
    assert load(harness.positions, "clicks/0", 0) == 3


async def test_a_fresh_state_whose_stream_begins_later_reads_it_from_the_start(harness: Harness) -> None:
    """A first batch that began while the worker's first rebalance was finishing is withheld, and Faust
    commits past withheld records of a partition its group never committed: the stream then begins
    after them (seen in the chaos test: a user's first clicks never applied, their copies dead-lettered
    as late a minute on)."""
    harness.log = [click(0, event_id="first"), click(1, at_s=60, sku="B")]
    await harness.run(harness.log[1])
    await harness.run(click(2, at_s=1, event_id="first"))  # its producer's retry, 59 s behind
    assert harness.reads == [("clicks", 0, 0, 1)] and harness.dead_lettered() == []
    assert {digest("clicks:e:first"), digest("clicks:e:e1")} <= set(harness.slot().seen.ids)


async def test_a_record_ahead_of_its_stretch_leaves_no_original_unknown(harness: Harness) -> None:
    """Records out of order around a seek (one fetched before it, then the stretch read again): applied
    as they came, the later one would move the user's offset past the earlier ones, which would pass for
    redeliveries, and a re-sent copy of one of them would then be dead-lettered as late."""
    harness.log = [click(0), click(1, at_s=1, event_id="first"), click(2, at_s=100, sku="B")]
    await harness.run(harness.log[0])
    await harness.run(harness.log[2], harness.log[1], harness.log[2])  # 2 ahead, then 1 and 2 again
    before = count(metrics.DUPLICATES, agent="user-clicks", topic="clicks")
    await harness.run(click(3, at_s=1, event_id="first"))  # its producer's retry, 99 s behind
    assert harness.dead_lettered() == []
    assert count(metrics.DUPLICATES, agent="user-clicks", topic="clicks") == before + 1
    assert harness.reads == [("clicks", 0, 1, 2)] and harness.slot().received == {"clicks/0": 3}


async def test_an_event_refused_when_decoded_moves_the_position_past_it(harness: Harness) -> None:
    refused = (click(1)[0], None)  # dead-lettered by the agent's decoder
    await harness.run(click(0), refused, click(2, at_s=1, sku="B"))
    await harness.run(click(3, at_s=2))
    assert harness.reads == [] and load(harness.positions, "clicks/0", 0) == 3
