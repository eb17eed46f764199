"""End-to-end fixtures: a scripted flash sale, what models/ says it must decide, and output readers.

The sale is hand-written and small so every expectation is exact: five SKUs in three categories, one
live campaign, ten minutes of orders and clicks, a stock snapshot every minute and a trailing one at
12:30 so that event time closes the buckets of minutes 0-11 (the watermark is the latest event time
less ``allowed_lateness_s``). Expected decisions come from the same models/ code the pipeline runs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from infra.net import free_port
from models.ids import decision_id, from_epoch
from models.policy.campaign_demand import CampaignDemand, CampaignOutlook
from models.policy.restock import restock_decision
from models.policy.sku_state import SkuState
from streams.runtime.admin import client_config, ensure_topics, partitions_of
from streams.runtime.clock import KIND_RANK
from streams.settings import Settings
from streams.skus.processor import sku_policy

SALE_MINUTES = 10  # orders and clicks happen in minutes 0-9
SNAPSHOT_MINUTES = 13  # stock snapshots at m:01 for m in 0-12, then a trailing one at 12:30
KIND_OF_TOPIC = {"orders": "order", "stock": "stock", "catalog": "catalog"}


@dataclass(frozen=True)
class Product:
    sku: str
    title: str
    category: str
    base_price: float
    stock: int
    units_per_minute: tuple[int, ...]  # one order per entry, every minute until the stock is gone


PRODUCTS = (  # fast seller, steady seller, slow seller, sells out early, no demand at all
    Product(
        "sku-earbuds", "Wireless Bluetooth Earbuds with Charging Case", "audio", 59.0, 60, (2, 1, 1, 2, 1, 2)
    ),
    Product("sku-headphones", "Over-Ear Noise Cancelling Headphones", "audio", 129.0, 300, (1, 1)),
    Product("sku-knife", "Stainless Steel Chef Knife", "kitchen", 45.0, 400, (1,)),
    Product("sku-pan", "Nonstick Frying Pan", "kitchen", 35.0, 14, (1, 1, 2)),
    Product("sku-mat", "Non-Slip Yoga Mat", "fitness", 25.0, 150, ()),
)
CLICKERS = {"alice": ("sku-earbuds", "sku-headphones"), "bob": ("sku-knife", "sku-pan")}
ACTIONS = ("view", "click", "add_to_cart")
SEARCHES = {"click-alice-5-0": "noise cancelling earbuds", "click-bob-5-0": "cast iron frying pan"}


@dataclass(frozen=True)
class Message:
    """One input event: contract topic name, key, JSON value bytes, event time (epoch s)."""

    topic: str
    key: bytes
    value: bytes
    ts: float

    @property
    def data(self) -> Any:
        return json.loads(self.value)


@dataclass
class ScriptedSale:
    """The scripted sale's events and campaign, and what the models say must come out of it."""

    start: datetime
    campaign: dict[str, Any]
    products: dict[str, Product]
    messages: list[Message] = field(default_factory=list)

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def of(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]

    def last_click(self, user_id: str) -> dict[str, Any]:
        return [m.data for m in self.of("clicks") if m.data["user_id"] == user_id][-1]


def script_sale(start: datetime) -> ScriptedSale:
    """Build the scripted sale starting at ``start`` (a whole minute)."""
    campaign = {
        "campaign_id": "singles-day", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=60)).isoformat(), "discount": 0.2, "min_discount": 0.1,
        "max_discount": 0.4, "restock_lead_minutes": 10,
    }  # fmt: skip
    sale = ScriptedSale(start, campaign, {p.sku: p for p in PRODUCTS})
    sold = dict.fromkeys(sale.products, 0)

    def add(topic: str, key: str, seconds: float, **value: Any) -> None:
        ts = sale.at(seconds)
        value["ts" if topic != "catalog" else "updated_at"] = ts.isoformat()
        sale.messages.append(Message(topic, key.encode(), json.dumps(value).encode(), ts.timestamp()))

    def snapshot(p: Product, seconds: float, name: str) -> None:
        left = p.stock - sold[p.sku]
        add("stock", p.sku, seconds, event_id=f"stock-{p.sku}-{name}", sku=p.sku, on_hand=left, inbound=0)

    def orders(minute: int) -> None:
        for i, p in enumerate(PRODUCTS):
            for j, wanted in enumerate(p.units_per_minute):
                units = min(wanted, p.stock - sold[p.sku])
                if units <= 0:
                    continue
                sold[p.sku] += units
                n = sum(sold.values())  # grows with every order: a unique id
                user, seconds = f"buyer-{n % 7}", minute * 60 + 5 + 7 * j + i  # distinct times in the minute
                add("orders", user, seconds, event_id=f"order-{n}", order_id=f"o-{n}", user_id=user,
                    sku=p.sku, quantity=units, unit_price=round(p.base_price * 0.8, 2))  # fmt: skip

    def clicks(minute: int) -> None:
        for k, (user, skus) in enumerate(CLICKERS.items()):
            for j in range(3):  # 20 s apart: above the 5 s debounce, so each click is recommended on
                event_id, seconds = f"click-{user}-{minute}-{j}", minute * 60 + 10 + 20 * j + k
                query = SEARCHES.get(event_id)
                sku, action = (
                    (None, "search") if query else (skus[(minute + j) % 2], ACTIONS[(minute + j) % 3])
                )
                add(
                    "clicks",
                    user,
                    seconds,
                    event_id=event_id,
                    user_id=user,
                    sku=sku,
                    action=action,
                    query=query,
                )

    for p in PRODUCTS:
        add("catalog", p.sku, 0, sku=p.sku, title=p.title, category=p.category, base_price=p.base_price,
            campaign=campaign)  # fmt: skip
    for minute in range(SNAPSHOT_MINUTES):
        for p in PRODUCTS:
            snapshot(p, minute * 60 + 1, str(minute))
        if minute < SALE_MINUTES:
            orders(minute)
            clicks(minute)
    for p in PRODUCTS:  # trailing snapshots: event time moves past the last sale minute
        snapshot(p, 12 * 60 + 30, "end")
    sale.messages.sort(key=lambda m: m.ts)  # each partition in event-time order, as producers send
    return sale


def final_watermark(messages: list[Message], settings: Settings) -> float:
    """Where event time ends once every source is caught up: the latest per-SKU input, less lateness."""
    return max(m.ts for m in messages if m.topic in KIND_OF_TOPIC) - settings.allowed_lateness_s


def normalise(fields: dict[str, Any]) -> dict[str, Any]:
    """A decision as compared across topic, Postgres and models: ts as an aware UTC datetime."""
    ts = fields["ts"]
    ts = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return {**fields, "ts": ts.astimezone(UTC)}


def replay_decisions(messages: list[Message], settings: Settings) -> dict[str, dict[str, dict[str, Any]]]:
    """Decisions of models.policy.sku_state.SkuState fed each SKU's events in event-time order: a clean run.

    Returns ``{"restock": {event_id: fields}, "discount": {...}}``.
    """
    policy, until = sku_policy(settings), final_watermark(messages, settings)
    per_sku: dict[str, list[tuple[float, int, int, dict[str, Any]]]] = {}
    for seq, m in enumerate(messages):
        if m.topic in KIND_OF_TOPIC:
            data = m.data
            per_sku.setdefault(data["sku"], []).append((m.ts, KIND_RANK[KIND_OF_TOPIC[m.topic]], seq, data))
    out: dict[str, dict[str, dict[str, Any]]] = {"restock": {}, "discount": {}}
    for sku, events in per_sku.items():
        state, decisions = SkuState(sku, policy), []
        for t, _rank, _seq, data in sorted(events, key=lambda e: e[:3]):
            if t >= until:
                break
            decisions += state.advance(t)
            state.apply(data, t)
        decisions += state.advance(until)
        for d in decisions:
            out[d.kind][d.fields["event_id"]] = normalise(d.fields)
    return out


def expected_restocks(
    sale: ScriptedSale, settings: Settings, discounts: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Restocks from models/policy/restock.py on a CampaignDemand fed the script's own per-bucket units.

    Independent of SkuState: units per bucket, the stock level seen before each bucket end, our orders
    not yet confirmed and whether the supplier took them (the script's stock reports never show an
    order as inbound: its supplier takes none) are counted here from the script itself; the discount
    each restock plans with is the last of ``discounts`` (the stream's) taken before it.
    """
    policy, until = sku_policy(settings), final_watermark(sale.messages, settings)
    bucket_s, confirm_s = 60 * settings.bucket_minutes, 60 * settings.restock_confirm_minutes
    lead, c, start = sale.campaign["restock_lead_minutes"], sale.campaign, sale.start.timestamp()
    window = (
        datetime.fromisoformat(c["starts_at"]).timestamp(),
        datetime.fromisoformat(c["ends_at"]).timestamp(),
    )
    out = {}
    for sku in sale.products:
        orders = [m.data for m in sale.of("orders") if m.data["sku"] == sku]
        levels = [(m.ts, m.data) for m in sale.of("stock") if m.data["sku"] == sku]
        ours_moves = sorted(
            (d["ts"].timestamp(), d["new_discount"]) for d in discounts.values() if d["sku"] == sku
        )
        demand, ours, short = CampaignDemand(prior_elasticity=policy.prior_elasticity), [], False
        for b in range(int((until - start) // bucket_s)):
            begin, end = start + b * bucket_s, start + (b + 1) * bucket_s
            units = sum(
                o["quantity"] for o in orders if begin <= datetime.fromisoformat(o["ts"]).timestamp() < end
            )
            seen_at, level = [(t, data) for t, data in levels if t < end][-1]
            live = window[0] <= begin < window[1]
            if level["on_hand"] != 0:  # a sold-out bucket says nothing about demand
                demand.learn_one(units, c["discount"] if live else 0.0, live)
            ours = [(t, q) for t, q in ours if t + lead * 60 > end]
            short = short or level["inbound"] < sum(q for t, q in ours if t + confirm_s <= seen_at)
            if short:
                continue  # the supplier took less than ordered: no more orders in this campaign
            inbound = level["inbound"] + sum(q for t, q in ours if t + confirm_s > seen_at)
            lead_buckets = max(math.ceil(lead / settings.bucket_minutes), 1)
            cover = max(policy.review_buckets, math.ceil((window[1] - end) / bucket_s) - lead_buckets)
            if demand.n_live < policy.min_evidence_buckets or end >= window[1]:
                cover = policy.review_buckets  # the rest of the campaign only on enough evidence
            discount = ([c["discount"]] + [d for t, d in ours_moves if t < end])[-1]
            outlook = CampaignOutlook(demand, window, end, bucket_s, discount)
            decision = restock_decision(
                level["on_hand"], inbound, outlook, lead_buckets, settings.service_level, cover,
                settings.bucket_minutes,
            )  # fmt: skip
            if decision is None:
                continue
            ours.append((end, decision.quantity))
            event_id = decision_id("restock", sku, from_epoch(begin))
            out[event_id] = {
                "event_id": event_id, "sku": sku, "quantity": decision.quantity, "on_hand": level["on_hand"],
                "inbound": inbound, "forecast_units": round(decision.forecast_units, 4),
                "horizon_minutes": decision.horizon_buckets * settings.bucket_minutes,
                "service_level": settings.service_level, "reason": decision.reason, "ts": from_epoch(end),
            }  # fmt: skip
    return out


@pytest.fixture
def sale() -> ScriptedSale:
    """The scripted sale, starting at a recent whole hour (recent: broker retention reads event time)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return script_sale(now - timedelta(hours=3))


@dataclass(frozen=True)
class Sent:
    """Where a message landed."""

    message: Message
    topic: str
    partition: int
    offset: int


@pytest.fixture
def publish(kafka_bootstrap: str) -> Iterator[Callable[[Settings, list[Message]], list[Sent]]]:
    """Create the namespace's topics, then send messages (Kafka timestamp = event time); returns where."""
    from kafka import KafkaProducer

    # Up to 4 MiB a record: what each topic accepts is the broker's to say (max.message.bytes).
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5, max_request_size=4 << 20
    )

    def send(settings: Settings, messages: list[Message]) -> list[Sent]:
        ensure_topics(settings)
        futures = []
        for m in messages:
            future = producer.send(settings.topic(m.topic), m.value, m.key, timestamp_ms=round(m.ts * 1000))
            futures.append((m, future))
        producer.flush()
        return [Sent(m, md.topic, md.partition, md.offset) for m, f in futures for md in [f.get(timeout=30)]]

    yield send
    producer.close()


class TopicReader:
    """Reads a whole topic from its start, keeping what it has read; polls until a condition holds."""

    def __init__(self, settings: Settings, topic: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.topic = topic
        self.consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
        self.partitions = [TopicPartition(topic, p) for p in partitions_of(settings, [topic])[topic]]
        self.consumer.assign(self.partitions)
        self.consumer.seek_to_beginning(*self.partitions)
        self.records: list[Any] = []

    def poll(self) -> list[Any]:
        for batch in self.consumer.poll(timeout_ms=200).values():
            self.records.extend(batch)
        return self.records

    def until(self, condition: Callable[[list[Any]], bool], timeout: float = 180) -> list[Any]:
        """All records read once ``condition(records)`` holds; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition(self.poll()):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.topic}: condition not met in {timeout}s; read {len(self.records)}"
                )
        return self.records

    def to_end(self) -> list[Any]:
        """All records up to the current end of every partition."""
        ends = self.consumer.end_offsets(self.partitions)
        return self.until(lambda _: all(self.consumer.position(tp) >= end for tp, end in ends.items()), 60)

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def read_topic() -> Iterator[Callable[[Settings, str], TopicReader]]:
    """``read_topic(settings, "restock")``: a reader of that contract topic in the settings' namespace."""
    readers: list[TopicReader] = []

    def open_reader(settings: Settings, name: str) -> TopicReader:
        readers.append(TopicReader(settings, settings.topic(name)))
        return readers[-1]

    yield open_reader
    for reader in readers:
        reader.close()


DECISION_TABLES = {"restock": "restock_events", "discount": "discount_adjustments"}
SOURCE_COLUMNS = ("source_topic", "source_partition", "source_offset", "created_at")


@pytest.fixture
def decision_rows(postgres_url: str) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """``decision_rows(schema, kind, n)``: the decision rows of a schema, once at least ``n`` are there."""
    engine = sa.create_engine(postgres_url)

    def rows(schema: str, kind: str, n: int = 0, timeout: float = 120) -> list[dict[str, Any]]:
        query = sa.text(f'SELECT * FROM "{schema}".{DECISION_TABLES[kind]} ORDER BY event_id')
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as conn:
                found = [dict(r._mapping) for r in conn.execute(query)]
            if len(found) >= n or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    yield rows
    engine.dispose()


def decisions_of(records: list[Any]) -> dict[str, dict[str, Any]]:
    """Decision records of a topic by event_id (a repeated id must repeat the same decision)."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        fields = normalise(json.loads(record.value))
        assert out.setdefault(fields["event_id"], fields) == fields, f"one id, two decisions: {fields}"
    return out


def row_decisions(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Postgres rows as decisions (source columns dropped), by event_id."""
    return {r["event_id"]: normalise({k: v for k, v in r.items() if k not in SOURCE_COLUMNS}) for r in rows}


@dataclass(frozen=True)
class E2E:
    """The module-level helpers, for tests (a conftest cannot be imported under importlib mode)."""

    replay_decisions: Callable[..., dict[str, dict[str, dict[str, Any]]]] = replay_decisions
    expected_restocks: Callable[..., dict[str, dict[str, Any]]] = expected_restocks
    decisions_of: Callable[[list[Any]], dict[str, dict[str, Any]]] = decisions_of
    row_decisions: Callable[[list[dict[str, Any]]], dict[str, dict[str, Any]]] = row_decisions
    free_port: Callable[[], int] = free_port
    message: type[Message] = Message
    script_sale: Callable[[datetime], ScriptedSale] = script_sale


@pytest.fixture
def e2e() -> E2E:
    return E2E()
