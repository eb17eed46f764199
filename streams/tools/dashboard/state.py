"""What the dashboard shows, folded from the namespace's topics: plain data, no Kafka, no web.

Each record read is :meth:`DashboardState.fold`-ed in; :meth:`DashboardState.snapshot` is the JSON the
page draws. Values are JSON only (never unpickled); a record that does not decode is counted under
``reader.bad``, never raised.

>>> state = DashboardState(bucket_s=60)
>>> state.fold(Fed("sku-status", b"A", b'{"sku": "A", "on_hand": 5, "inbound": 2, "units_sold": 3}', 0))
>>> row = state.snapshot()["skus"][0]
>>> row["sku"], row["on_hand"], row["inbound"], row["units_sold"]
('A', 5, 2, 3)
>>> state.fold(Fed("sku-status", b"A", b"not json", 0))
>>> state.snapshot()["reader"]["bad"]
{'sku-status': 1}
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.contracts.decoding import decode, parse_json, parse_timestamp
from streams.contracts.eventtime import KAFKA_TIME, EventTimePolicy
from streams.contracts.records import CatalogItem, DiscountAdjustment, Order, Restock
from streams.contracts.topics import (
    CATALOG,
    DEAD_LETTERS,
    DISCOUNTS,
    ORDERS,
    RECOMMENDATIONS,
    RESTOCK,
    SKU_STATUS,
)
from streams.tools.dashboard.sku_row import SkuRow, trim

FED_TOPICS = (CATALOG, ORDERS, SKU_STATUS, RESTOCK, DISCOUNTS, RECOMMENDATIONS, DEAD_LETTERS)
MAX_DECISIONS = 40  # the latest decisions listed with their reasons
TEXT_MAX = 300


@dataclass(frozen=True)
class Fed:
    """One record as read: contract topic name (namespace stripped), key, value, Kafka time (ms)."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()


def _bump(counts: dict[int, int], key: int, add: int = 1) -> None:
    """``counts[key] += add``, keeping the newest ``MAX_BUCKETS`` keys."""
    counts[key] = counts.get(key, 0) + add
    trim(counts)


def _number(data: dict[str, Any], name: str, integral: bool = False) -> Any:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int if integral else (int, float)):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite")
    return value


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


class DashboardState:
    """Everything the page shows, updated one record at a time; ``version`` counts the changes."""

    def __init__(
        self,
        bucket_s: int = 60,
        namespace: str = "",
        group: str = "",
        event_time: EventTimePolicy = KAFKA_TIME,
    ) -> None:
        self.bucket_ms, self.namespace, self.group = bucket_s * 1000, namespace, group
        self.event_time = event_time  # how input topics (catalog, orders) are stamped
        self.version = 0
        self.skus: dict[str, SkuRow] = {}
        self.decisions: deque[dict[str, Any]] = deque(maxlen=MAX_DECISIONS)
        self.decision_ids: set[str] = set()  # a redelivered decision is shown once
        self.timeline: dict[int, Counter[str]] = {}  # bucket ms → decisions by kind
        self.recommendations: dict[int, int] = {}  # bucket ms → lists published
        self.dead_letters: dict[str, dict[str, Any]] = {}  # error class → count, source, last message
        self.records: Counter[str] = Counter()
        self.bad: Counter[str] = Counter()
        self.last_bad: str | None = None
        self.reader_error: str | None = None
        self.lag: dict[str, Any] | None = None
        self.event_time_ms: int | None = None
        self._fold = {
            CATALOG: self._catalog, ORDERS: self._order, SKU_STATUS: self._status, RESTOCK: self._restock,
            DISCOUNTS: self._discount, RECOMMENDATIONS: self._recommendation, DEAD_LETTERS: self._dead,
        }  # fmt: skip

    def fold(self, record: Fed) -> None:
        """Take one record in; one that does not decode is counted as bad, never raised."""
        self.records[record.topic] += 1
        try:
            self._fold[record.topic](record)
        except Exception as exc:  # any bad value is data: counted and named, the reader goes on
            self.bad[record.topic] += 1
            self.last_bad = f"{record.topic}: {type(exc).__name__}: {exc}"[:TEXT_MAX]
        self.version += 1

    def set_reader_error(self, error: str | None) -> None:
        """Why the reader is not reading (None: it is)."""
        if error != self.reader_error:
            self.reader_error = error
            self.version += 1

    def set_lag(self, lag: dict[str, Any]) -> None:
        """The worker group's lag as last measured (or the error measuring it)."""
        if lag != self.lag:
            self.lag = lag
            self.version += 1

    def row(self, sku: str) -> SkuRow:
        return self.skus.setdefault(sku, SkuRow(sku))

    def _bucket(self, ms: int) -> int:
        return ms // self.bucket_ms * self.bucket_ms

    def _saw(self, ms: int) -> None:
        self.event_time_ms = max(self.event_time_ms or ms, ms)

    def _catalog(self, record: Fed) -> None:
        item = decode(CatalogItem, record.value, record.timestamp_ms / 1000, event_time=self.event_time)
        self.row(item.sku).title = item.title

    def _order(self, record: Fed) -> None:
        order = decode(Order, record.value, record.timestamp_ms / 1000, event_time=self.event_time)
        ms = int(order.ts.timestamp() * 1000)  # the pipeline's event time, whatever the Kafka timestamp is
        self._saw(ms)
        _bump(self.row(order.sku).actuals, self._bucket(ms), order.quantity)

    def _status(self, record: Fed) -> None:
        data = parse_json(record.value)
        sku = data.get("sku")
        if not isinstance(sku, str) or not sku:
            raise ValueError("sku must be a non-empty string")
        row = self.row(sku)
        row.on_hand, row.inbound = _number(data, "on_hand", True), _number(data, "inbound", True)
        row.units_sold = _number(data, "units_sold", True) or 0
        row.oversold_units = _number(data, "oversold_units", True) or 0  # absent from older workers
        self._set_discount(row, _number(data, "discount"), record.timestamp_ms)
        forecast = data.get("forecast")
        if isinstance(forecast, dict):
            units, lo, hi = (float(_number(forecast, k)) for k in ("units", "lo", "hi"))
            bucket = int(parse_timestamp("forecast.bucket", forecast.get("bucket")).timestamp() * 1000)
            row.forecast = {"units": units, "lo": lo, "hi": hi}
            row.forecasts[bucket] = (units, lo, hi)
            trim(row.forecasts)

    def _set_discount(self, row: SkuRow, discount: float | None, ms: int) -> None:
        if discount is not None and ms >= row.discount_ms:
            row.discount, row.discount_ms = discount, ms

    def _restock(self, record: Fed) -> None:
        r = decode(Restock, record.value, record.timestamp_ms / 1000)
        what = (
            f"order {r.quantity} (on hand {r.on_hand}, inbound {r.inbound}, "
            f"forecast {r.forecast_units:.1f} in {r.horizon_minutes} min)"
        )
        self._decision("restock", r.event_id, r.sku, r.ts, what, r.reason)

    def _discount(self, record: Fed) -> None:
        d = decode(DiscountAdjustment, record.value, record.timestamp_ms / 1000)
        what = (
            f"discount {d.old_discount:.0%} → {d.new_discount:.0%} "
            f"(projected sell-through {d.projected_sell_through:.0%})"
        )
        if self._decision("discount", d.event_id, d.sku, d.ts, what, d.reason):
            self._set_discount(self.row(d.sku), d.new_discount, int(d.ts.timestamp() * 1000))

    def _decision(self, kind: str, event_id: str, sku: str, ts: datetime, what: str, reason: str) -> bool:
        if event_id in self.decision_ids:
            return False
        self.decision_ids.add(event_id)
        ms = int(ts.timestamp() * 1000)
        self._saw(ms)
        entry = {"kind": kind, "sku": sku, "ts": ts.isoformat(), "what": what, "reason": reason}
        self.decisions.append(entry)
        row = self.row(sku)
        if row.last_decision is None or entry["ts"] >= row.last_decision["ts"]:
            row.last_decision = entry
        self.timeline.setdefault(self._bucket(ms), Counter())[kind] += 1
        trim(self.timeline)
        return True

    def _recommendation(self, record: Fed) -> None:
        # Only counted: checking every item of every list would cost more than the page is worth.
        if not isinstance(parse_json(record.value).get("items"), list):
            raise ValueError("items must be a list")
        self._saw(record.timestamp_ms)
        _bump(self.recommendations, self._bucket(record.timestamp_ms))

    def _dead(self, record: Fed) -> None:
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
        reason = headers.get("error_class", "unknown")[:TEXT_MAX]
        entry = self.dead_letters.setdefault(reason, {"reason": reason, "count": 0, "sources": Counter()})
        entry["count"] += 1
        entry["sources"][headers.get("source_topic", "?").rpartition(".")[2][:TEXT_MAX]] += 1
        entry["last_message"] = headers.get("error_message", "")[:TEXT_MAX]

    def snapshot(self, sku: str | None = None) -> dict[str, Any]:
        """The page's data; the forecast series is ``sku``'s (default: the SKU that sold most)."""
        rows = [self.skus[s] for s in sorted(self.skus)]
        chosen = self.skus.get(sku or "") or max(rows, key=lambda r: r.units_sold, default=None)
        decided: Counter[str] = sum(self.timeline.values(), Counter())
        return {
            "namespace": self.namespace,
            "group": self.group,
            "version": self.version,
            "bucket_ms": self.bucket_ms,
            "event_time": _iso(self.event_time_ms),
            "totals": {
                "skus": len(rows),
                "units_sold": sum(r.units_sold for r in rows),
                "on_hand": sum(r.on_hand or 0 for r in rows),
                "inbound": sum(r.inbound or 0 for r in rows),
                "restocks": decided["restock"],
                "discounts": decided["discount"],
                "recommendations": sum(self.recommendations.values()),
                "dead_letters": sum(d["count"] for d in self.dead_letters.values()),
            },
            "skus": [r.summary() for r in rows],
            "series": {"sku": chosen.sku, "points": chosen.series()} if chosen else None,
            "decisions": list(reversed(self.decisions)),
            "timeline": [[b, c["restock"], c["discount"]] for b, c in sorted(self.timeline.items())],
            "recommendations_per_minute": self._per_minute(),
            "dead_letters": sorted(
                ({**d, "sources": dict(d["sources"])} for d in self.dead_letters.values()),
                key=lambda d: -d["count"],
            ),
            "lag": self.lag,
            "reader": {
                "records": dict(self.records),
                "bad": dict(self.bad),
                "last_bad": self.last_bad,
                "error": self.reader_error,
            },
        }

    def _per_minute(self) -> list[list[float]]:
        scale = 60_000 / self.bucket_ms
        return [[b, n * scale] for b, n in sorted(self.recommendations.items())]
