"""Malformed and adversarial input: each bad message is a good message of the sale with one defect.

Every defect breaks the topic's contract (``PRODUCT.md``, "Event contracts"), is not valid Unicode, or
names an SKU the catalog never listed, so each must end in ``dead-letters`` with a reason and cost no
good event. A bad message is a copy of the good message of its topic just before where it is inserted,
at that place's event time (so that a defect is the only difference), except where time is the defect.

>>> from tests.chaos.workload import Message
>>> order = {"event_id": "e1", "order_id": "o1", "user_id": "u1", "sku": "s1", "quantity": 1,
...          "unit_price": 2.0, "ts": "2026-01-01T00:00:00+00:00"}
>>> good = [Message("orders", b"u1", json.dumps(order).encode(), 1767225600.0)] * 3
>>> mixed, bad = with_hostile(good, 50, seed=1, now=1.8e9, topics=("orders",))
>>> len(mixed), len(bad), {b.message.topic for b in bad}
(53, 50, {'orders'})
"""

from __future__ import annotations

import bisect
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.chaos.workload import Message

Value = dict[str, Any]
Change = Callable[[Value], Value]


@dataclass(frozen=True)
class Bad:
    """A bad message and what is wrong with it."""

    message: Message
    defect: str


REQUIRED = {
    "orders": ("event_id", "order_id", "user_id", "sku", "quantity", "unit_price", "ts"),
    "stock": ("event_id", "sku", "on_hand", "inbound", "ts"),
    "clicks": ("event_id", "user_id", "action", "ts"),
    "catalog": ("sku", "title", "category", "base_price", "updated_at"),
}
TS_FIELD = {"catalog": "updated_at", "clicks": "ts", "orders": "ts", "stock": "ts"}
NUMBERS = {"orders": ("quantity", "unit_price"), "stock": ("on_hand", "inbound"), "catalog": ("base_price",)}
ABSURD: dict[str, tuple[Any, ...]] = {
    "quantity": (0, -1, -(10**9), 10**7, 2**63, 1.5, 10**400),
    "unit_price": (-0.01, -1e300, 1e10),
    "on_hand": (-1, -(2**40), 10**10, 2**64, 0.5),
    "inbound": (-5, 10**12),
    "base_price": (-1.0, 1e12),
}
NOT_NUMBERS: tuple[Any, ...] = ("12", [], {}, True, [1], {"$gt": 0})
NOT_STRINGS: tuple[Any, ...] = (12, 1.5, [], {}, True, ["a"])
NOT_UNICODE = ("\ud800", "a\udfffb", "\ud83d")  # lone surrogates: valid JSON escapes, not text
BAD_IDS = ("", "   ", "x" * 129, "sku\x00")
FAR = ("1970-01-01T00:00:00+00:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",
       "2100-01-01T00:00:00+00:00", "1999-12-31T23:59:59+00:00")  # fmt: skip


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _set(field: str, value: Any) -> Change:
    return lambda v: {**v, field: value}


def _drop(field: str) -> Change:
    return lambda v: {k: x for k, x in v.items() if k != field}


def _shift(field: str, days: int) -> Change:
    return lambda v: {**v, field: (datetime.fromisoformat(v[field]) + timedelta(days=days)).isoformat()}


def _campaign(**change: Any) -> Change:
    base = {"campaign_id": "c", "starts_at": "2026-01-01T00:00:00+00:00",
            "ends_at": "2026-01-02T00:00:00+00:00", "discount": 0.2, "min_discount": 0.1,
            "max_discount": 0.4, "restock_lead_minutes": 10}  # fmt: skip
    return lambda v: {**v, "campaign": {**(v.get("campaign") or base), **change}}


def field_defects(topic: str, rng: random.Random, now: float) -> list[tuple[str, Change, float | None]]:
    """(defect, change of a good value, Kafka timestamp or None for the good one's) for ``topic``."""
    ts = TS_FIELD[topic]
    ids = [f for f in REQUIRED[topic] if f not in (ts, "action", "title", *NUMBERS.get(topic, ()))]
    out: list[tuple[str, Change, float | None]] = [(f"missing {f}", _drop(f), None) for f in REQUIRED[topic]]
    for f in NUMBERS.get(topic, ()):
        out.append((f"{f} not a number", _set(f, rng.choice(NOT_NUMBERS)), None))
        out += [(f"absurd {f}={v!r:.24}", _set(f, v), None) for v in ABSURD[f]]
    for f in (*ids, ts):
        out.append((f"{f} not a string", _set(f, rng.choice(NOT_STRINGS)), None))
        out.append((f"{f} not Unicode", _set(f, rng.choice(NOT_UNICODE)), None))
    out += [(f"bad sku {v!r:.24}", _set("sku", v), None) for v in BAD_IDS]
    out.append(("huge sku", _set("sku", "s" * rng.randint(129, 50_000)), None))
    if topic != "catalog":
        out.append(("unknown sku", _set("sku", f"ghost-{rng.randrange(10**6)}"), None))
    out += [(f"{ts} {far[:10]}", _set(ts, far), None) for far in FAR]
    out.append((f"{ts} without zone", _set(ts, "2026-01-01T00:00:00"), None))
    out.append((f"{ts} not a time", _set(ts, "yesterday"), None))
    out.append((f"{ts} 2 days from the Kafka timestamp", _shift(ts, 2), None))
    # Payload and Kafka timestamp agree, but lie: the far past, and the future (< 1 h: brokers allow it).
    past = datetime(2001, 1, 1, tzinfo=UTC).timestamp() + rng.randrange(10**6)
    out.append(("event time in 2001", _set(ts, _iso(past)), past))
    # At least 40 min ahead: still more than the 5 min allowed when read again, even 35 min later.
    future = now + rng.randint(2400, 3300)
    out.append(("event time in the future", _set(ts, _iso(future)), future))
    if topic == "clicks":
        out += [
            ("search without query", lambda v: {**v, "action": "search", "query": None, "sku": None}, None),
            ("view without sku", lambda v: {**v, "action": "view", "sku": None}, None),
            ("unknown action", _set("action", "purchase"), None),
            ("query not Unicode", lambda v: {**v, "action": "search", "query": "cheap \ud83d tv"}, None),
            ("huge query", lambda v: {**v, "action": "search", "query": "q" * 5000}, None),
        ]
    if topic == "catalog":
        out += [
            ("campaign discount above its max", _campaign(discount=0.9, max_discount=0.5), None),
            ("campaign ends before it starts", _campaign(ends_at="2025-01-01T00:00:00+00:00"), None),
            ("campaign discount a string", _campaign(discount="0.2"), None),
            ("campaign discount NaN", _campaign(discount=float("nan")), None),
            ("campaign not an object", _set("campaign", "yes"), None),
            ("title not Unicode", _set("title", "Phone \udc00"), None),
            ("blank title", _set("title", "  "), None),
            ("huge title", _set("title", "t" * 5000), None),
        ]
    return out


def _number_literal(text: bytes, field: str, literal: bytes) -> bytes:
    value = json.loads(text)
    value[field] = "__NUMBER__"
    return json.dumps(value).encode().replace(b'"__NUMBER__"', literal)


def byte_defects(good: bytes, topic: str, rng: random.Random) -> list[tuple[str, bytes | None]]:
    """Defects of the bytes themselves."""
    number = rng.choice(NUMBERS.get(topic, (TS_FIELD[topic],)))  # a field the contract checks
    cut = rng.randint(1, len(good) - 1)
    return [
        ("truncated JSON", good[:cut]),
        ("random bytes", rng.randbytes(rng.randint(1, 300))),
        ("empty value", b""),
        ("tombstone", None),
        ("JSON null", b"null"),
        ("JSON array", b"[1, 2, 3]"),
        ("JSON string", json.dumps(good.decode()).encode()),
        ("single quotes", good.replace(b'"', b"'")),
        ("invalid UTF-8", good[:cut] + b"\xff\xfe" + good[cut:]),
        ("overlong UTF-8", good.replace(b'"', b"\xc0\xa2", 1)),
        ("UTF-16", good.decode().encode("utf-16")),
        ("NaN", _number_literal(good, number, b"NaN")),
        ("Infinity", _number_literal(good, number, b"Infinity")),
        ("-Infinity", _number_literal(good, number, b"-Infinity")),
        ("1e999", _number_literal(good, number, b"1e999")),
        ("deeply nested", b"[" * 30_000 + b"]" * 30_000),
        ("oversized", good[:-1] + b', "padding": "' + b"p" * rng.randint(70_000, 300_000) + b'"}'),
        ("a repeated key, the last one bad", good[:-1] + b', "' + TS_FIELD[topic].encode() + b'": 7}'),
    ]


def _bad_copy(good: Message, at: float, rng: random.Random, now: float) -> Bad:
    """One defect applied to ``good`` moved to event time ``at``."""
    value = json.loads(good.value or b"{}")
    value[TS_FIELD[good.topic]] = _iso(at)
    text = json.dumps(value).encode()
    if rng.random() < 0.4:
        defect, raw = rng.choice(byte_defects(text, good.topic, rng))
        return Bad(Message(good.topic, good.key, raw, at), defect)
    defect, change, kafka_ts = rng.choice(field_defects(good.topic, rng, now))
    raw = json.dumps(change(value)).encode()  # ensure_ascii: lone surrogates stay \\u escapes
    return Bad(Message(good.topic, good.key, raw, kafka_ts or at), defect)


def with_hostile(
    good: Sequence[Message],
    n: int,
    seed: int,
    now: float,
    topics: Sequence[str] = ("catalog", "clicks", "orders", "stock"),
) -> tuple[list[Message], list[Bad]]:
    """``good`` with ``n`` bad messages at random places among them; returns (all, the bad ones).

    Each bad message copies the last good message of its (random) topic before its place, at the
    event time of that place; ``now`` (wall-clock epoch seconds) anchors timestamps in the future.
    """
    rng = random.Random(seed)
    where = {t: [i for i, m in enumerate(good) if m.topic == t] for t in topics}
    # Not among the first 2%: every source partition has had good events before its first bad one.
    places = sorted(rng.randrange(len(good) // 50, len(good)) for _ in range(n))
    out: list[Message] = []
    bad: list[Bad] = []
    p = 0
    for i, message in enumerate(good):
        while p < len(places) and places[p] == i:
            positions = where[rng.choice([t for t in topics if where[t]])]
            template = good[positions[max(bisect.bisect_right(positions, i) - 1, 0)]]
            bad.append(_bad_copy(template, message.ts, rng, now))
            out.append(bad[-1].message)
            p += 1
        out.append(message)
    return out, bad
