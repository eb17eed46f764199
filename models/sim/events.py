"""Contract-exact event values of the simulator (see ``PRODUCT.md``, "Event contracts").

Ids are deterministic: ``{id_prefix}-{seed}-{kind}-{n}``, numbered in event-time order once a batch
is sorted (:meth:`EventFactory.number`), so the same run always yields the same ids.

>>> f = EventFactory("sim", 7)
>>> events = f.number([f.stock("AUD-00001", 3, 0, "2026-11-11T12:00:00.000000+00:00")])
>>> events[0].value["event_id"], events[0].key
('sim-7-stk-1', 'AUD-00001')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from models.ids import to_epoch

_ID_KIND = {"clicks": "clk", "orders": "ord", "stock": "stk"}


class SimEvent(NamedTuple):
    """One message to publish: ``topic``, Kafka ``key`` and the JSON ``value``."""

    topic: str
    key: str
    value: dict[str, Any]


def iso(ts: datetime) -> str:
    """The one timestamp format of the simulator: ``2026-11-11T12:00:03.250000+00:00``."""
    return ts.isoformat(timespec="microseconds")


def timestamp_ms(event: SimEvent) -> int:
    """Kafka timestamp (event time, epoch milliseconds) of an event."""
    ts = event.value.get("ts") or event.value["updated_at"]
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def event_time(value: Mapping[str, Any]) -> float:
    """Event time (epoch seconds) of a contract event value."""
    return to_epoch(datetime.fromisoformat(value.get("ts") or value["updated_at"]))


class EventFactory:
    """Builds event values; ``event_id``/``order_id`` stay ``None`` until :meth:`number`."""

    def __init__(self, id_prefix: str, seed: int) -> None:
        self._stem = f"{id_prefix}-{seed}"
        self._counts: Counter[str] = Counter()

    def number(self, events: list[SimEvent]) -> list[SimEvent]:
        """Fill in ids, in list order (callers sort by event time first)."""
        for event in events:
            kind = _ID_KIND.get(event.topic)
            if kind is None:
                continue
            self._counts[kind] += 1
            n = self._counts[kind]
            event.value["event_id"] = f"{self._stem}-{kind}-{n}"
            if kind == "ord":
                event.value["order_id"] = f"{self._stem}-o{n}"
        return events

    @staticmethod
    def catalog(
        sku: str, title: str, category: str, base_price: float, campaign: dict[str, Any] | None, ts: str
    ) -> SimEvent:
        value = {"sku": sku, "title": title, "category": category, "base_price": base_price}
        return SimEvent("catalog", sku, {**value, "campaign": campaign, "updated_at": ts})

    @staticmethod
    def stock(sku: str, on_hand: int, inbound: int, ts: str) -> SimEvent:
        value = {"event_id": None, "sku": sku, "on_hand": on_hand, "inbound": inbound, "ts": ts}
        return SimEvent("stock", sku, value)

    @staticmethod
    def click(user_id: str, sku: str | None, action: str, query: str | None, ts: str) -> SimEvent:
        value = {"event_id": None, "user_id": user_id, "sku": sku, "action": action, "query": query}
        return SimEvent("clicks", user_id, {**value, "ts": ts})

    @staticmethod
    def order(user_id: str, sku: str, quantity: int, unit_price: float, ts: str) -> SimEvent:
        value = {"event_id": None, "order_id": None, "user_id": user_id, "sku": sku, "quantity": quantity}
        return SimEvent("orders", user_id, {**value, "unit_price": unit_price, "ts": ts})
