"""The chaos tests' input: a seeded simulated sale, how it lands on Kafka, and what must come out of it.

The sale comes from :class:`models.sim.market.FlashSaleMarket` (open loop: decisions are not fed back),
followed by one stock event per SKU two minutes after the sale, so that event time moves past every
order and every SKU's last bucket closes. What must come out is computed from the input alone:

* *ground truth* — units sold per SKU, summed from the orders;
* *reference* — the uninterrupted run: each SKU's events fed to
  :class:`models.policy.sku_state.SkuState` in the order the per-SKU agent applies them (event time, kind,
  source partition, offset) up to the final watermark; its decisions and each SKU's last published status.

>>> sale = build_sale(ChaosParams.fast(), start=datetime(2026, 1, 1, tzinfo=UTC))
>>> len(sale.messages) > 10_000, sorted({m.topic for m in sale.messages})
(True, ['catalog', 'clicks', 'orders', 'stock'])
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from models.policy.sku_state import SkuState
from models.sim.market import FlashSaleMarket, ScenarioConfig, timestamp_ms
from streams.runtime.admin import client_config
from streams.runtime.clock import KIND_RANK
from streams.settings import Settings
from streams.skus.processor import sku_policy

LONG_ENV = "FLASHSALE_CHAOS_LONG"
KIND_OF_TOPIC = {"orders": "order", "stock": "stock", "catalog": "catalog"}
TRAILING_S = 120  # the closing stock events come this long after the sale


@dataclass(frozen=True)
class ChaosParams:
    """Sizes of one variant: ``fast`` runs in CI, ``long`` when ``FLASHSALE_CHAOS_LONG=1``."""

    name: str
    minutes: int  # simulated sale length
    sessions_per_minute: float
    skus: int
    users: int
    kills: int  # SIGKILLs of a random worker
    outage_s: float  # Postgres down, and broker down, for this long
    hostile: int  # bad messages mixed into the sale
    timeout_s: float  # longest wait for a run to converge: a bound, sized for a loaded machine
    seed: int = 11

    @classmethod
    def fast(cls) -> ChaosParams:
        return cls("fast", 30, 60, 16, 500, kills=2, outage_s=10, hostile=2000, timeout_s=600)

    @classmethod
    def long(cls) -> ChaosParams:
        return cls("long", 60, 300, 40, 2000, kills=5, outage_s=30, hostile=10_000, timeout_s=1500)

    @classmethod
    def from_env(cls) -> ChaosParams:
        params = cls.long() if os.environ.get(LONG_ENV, "") not in ("", "0") else cls.fast()
        seed = os.environ.get("FLASHSALE_CHAOS_SEED")
        return params if seed is None else cls(**{**params.__dict__, "seed": int(seed)})


@dataclass(frozen=True)
class Message:
    """One input event: contract topic, key, value bytes and event time (epoch s = Kafka timestamp)."""

    topic: str
    key: bytes | None
    value: bytes | None
    ts: float


@dataclass(frozen=True)
class Placed:
    """Where a message landed."""

    message: Message
    partition: int
    offset: int


@dataclass
class Sale:
    """A seeded sale: its messages in publishing order and its SKUs."""

    start: datetime
    messages: list[Message] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)


def sale_start(now: datetime | None = None) -> datetime:
    """Three hours before the last whole hour: recent (brokers with time retention keep it), past."""
    now = now or datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def build_sale(params: ChaosParams, start: datetime) -> Sale:
    """The sale of ``params`` starting at ``start``, plus the closing stock events."""
    config = ScenarioConfig(
        seed=params.seed, n_users=params.users, n_skus=params.skus, start=start,
        duration_minutes=params.minutes, campaign_offset_minutes=params.minutes // 4,
        campaign_minutes=params.minutes // 2, restock_lead_minutes=min(15, params.minutes // 8),
        sessions_per_minute=params.sessions_per_minute, p_buy=0.6, max_buy=0.95,
        p_search=0.2,
    )  # fmt: skip
    market = FlashSaleMarket(config)
    events = market.initial_events()
    while not market.done:
        events += market.step(1)
    sale = Sale(start, skus=list(market.skus))
    for e in events:
        sale.messages.append(
            Message(e.topic, e.key.encode(), json.dumps(e.value).encode(), timestamp_ms(e) / 1e3)
        )
    end = start + timedelta(minutes=params.minutes, seconds=TRAILING_S)
    for i, sku in enumerate(market.skus):
        value = {"event_id": f"closing-{sku}", "sku": sku, "on_hand": int(market.on_hand[i]),
                 "inbound": int(market.inbound[i]), "ts": end.isoformat()}  # fmt: skip
        sale.messages.append(Message("stock", sku.encode(), json.dumps(value).encode(), end.timestamp()))
    return sale


def publish(settings: Settings, messages: Sequence[Message]) -> list[Placed]:
    """Send ``messages`` in order (Kafka timestamp = event time) and wait for the broker's acks.

    Idempotent, so a batch retried (a new topic's leader not settled yet) keeps its place: without it, a
    retry lands after later batches, and a user's clicks reach the stream out of order.
    """
    from kafka import KafkaProducer

    producer = KafkaProducer(
        **client_config(settings), acks="all", enable_idempotence=True, linger_ms=20, max_request_size=4 << 20
    )
    try:
        futures = [
            (
                m,
                producer.send(
                    settings.topic(m.topic), key=m.key, value=m.value, timestamp_ms=round(m.ts * 1e3)
                ),
            )
            for m in messages
        ]
        producer.flush()
        return [Placed(m, md.partition, md.offset) for m, f in futures for md in [f.get(timeout=60)]]
    finally:
        producer.close()


def normalise(fields: dict[str, Any]) -> dict[str, Any]:
    """A decision as compared across topics, Postgres and the reference: ts an aware UTC datetime."""
    ts = fields["ts"]
    ts = datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return {**fields, "ts": ts.astimezone(UTC)}


@dataclass
class Reference:
    """What any correct run of the sale must produce."""

    units: dict[str, int]  # ground truth: units sold per SKU, from the orders
    decisions: dict[str, dict[str, dict[str, Any]]]  # kind → event_id → fields (uninterrupted run)
    status: dict[str, dict[str, Any]]  # sku → last published status (uninterrupted run)

    @property
    def decision_count(self) -> int:
        return sum(len(d) for d in self.decisions.values())


def reference(placed: Sequence[Placed], settings: Settings) -> Reference:
    """Ground truth and the uninterrupted run of the good messages in ``placed``."""
    units: dict[str, int] = defaultdict(int)
    per_sku: dict[str, list[tuple[float, int, str, int, dict[str, Any]]]] = defaultdict(list)
    for p in placed:
        m = p.message
        if m.topic not in KIND_OF_TOPIC:
            continue
        data = json.loads(m.value or b"")
        if m.topic == "orders":
            units[data["sku"]] += data["quantity"]
        per_sku[data["sku"]].append(
            (m.ts, KIND_RANK[KIND_OF_TOPIC[m.topic]], f"{m.topic}/{p.partition}", p.offset, data)
        )
    until = max(e[0] for events in per_sku.values() for e in events) - settings.allowed_lateness_s
    decisions: dict[str, dict[str, dict[str, Any]]] = {"restock": {}, "discount": {}}
    status = {}
    for sku, events in per_sku.items():
        state = SkuState(sku, sku_policy(settings))
        out = []
        for t, _rank, _source, _offset, data in sorted(events, key=lambda e: e[:4]):
            if t >= until:
                break
            if state.rejects(data):
                continue  # dead-lettered by the per-SKU agent
            out += state.advance(t)
            state.apply(data, t)
        out += state.advance(until)
        for d in out:
            decisions[d.kind][d.fields["event_id"]] = normalise(d.fields)
        if state.closed_buckets:
            status[sku] = state.status()
    return Reference(dict(units), decisions, status)
