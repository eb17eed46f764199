"""The load of ``flashsale bench scale``: a large catalog, one click per user to build their state, then
windows of sale traffic, all in event-time order (1 ms apart unless told otherwise).

>>> events = catalog(4) + clicks(range(3), 4, "clk") + sale_window(200, 3, 4, start=START, seed=1)
>>> sale_opens(START).value["ts"]
'2026-11-11T12:00:00.000000+00:00'
>>> sorted({e.topic for e in events})
['catalog', 'clicks', 'orders', 'stock']
>>> [e.value["sku"] for e in events[:4:2]], [e.value["campaign"] is None for e in events[:4:2]]
(['sku-0', 'sku-1'], [False, True])
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from models.sim.events import SimEvent, iso

START = datetime(2026, 11, 11, 12, tzinfo=UTC)  # the first click; catalog and stock come before it
CATEGORIES = ("audio", "phones", "laptops", "kitchen", "toys", "garden", "sports", "books")
# Searches repeat as a sale's do: a few hundred distinct queries, each BERT-encoded once per worker.
WORDS = ("cheap", "best", "new", "wireless", "small", "gift", "pro", "sale", "fast", "quiet")
QUERIES = tuple(f"{word} {category}" for category in CATEGORIES for word in WORDS)
ACTIONS = ("view", "click", "add_to_cart", "search")
ACTION_P = (0.55, 0.25, 0.12, 0.08)
ORDER_SHARE, STOCK_SHARE = 0.03, 0.01  # of a window's events; the rest are clicks


def catalog(skus: int) -> list[SimEvent]:
    """``skus`` listings (every other one in a campaign around the clicks) and their opening stock."""
    listed, stock = START - timedelta(hours=1), START - timedelta(minutes=30)
    ends = iso(START + timedelta(hours=6))
    campaign = {"campaign_id": "bench", "starts_at": iso(listed), "ends_at": ends, "discount": 0.2,
                "min_discount": 0.1, "max_discount": 0.5, "restock_lead_minutes": 20}  # fmt: skip
    events = []
    for i in range(skus):
        sku, category = f"sku-{i}", CATEGORIES[i % len(CATEGORIES)]
        item = {"sku": sku, "title": f"{category} item {i}", "category": category,
                "base_price": 10.0 + i % 90, "updated_at": iso(listed),
                "campaign": campaign if i % 2 == 0 else None}  # fmt: skip
        events.append(SimEvent("catalog", sku, item))
        level = {"event_id": f"stk-{i}", "sku": sku, "on_hand": 500, "inbound": 0, "ts": iso(stock)}
        events.append(SimEvent("stock", sku, level))
    return events


def sale_opens(at: datetime) -> SimEvent:
    """A stock count at ``at``, the sale's first event time: the per-SKU path's watermark then reaches the
    sale while the state is built, not in the first timed window (the listings come an hour before the
    sale and every SKU closes a bucket a minute: 6·10⁵ closes at 10⁴ SKUs)."""
    level = {"event_id": "stk-open", "sku": "sku-0", "on_hand": 500, "inbound": 0, "ts": iso(at)}
    return SimEvent("stock", "sku-0", level)


def clicks(users: range, skus: int, tag: str, start: datetime = START, step_ms: int = 1) -> list[SimEvent]:
    """One view per user of ``users``, ``step_ms`` of event time apart from ``start``, each on a campaign
    SKU."""
    out = []
    for n, u in enumerate(users):
        ts, sku = iso(start + timedelta(milliseconds=n * step_ms)), f"sku-{(u * 7919) % skus // 2 * 2}"
        value = {"event_id": f"{tag}-{u}", "user_id": f"u{u}", "action": "view", "sku": sku, "ts": ts}
        out.append(SimEvent("clicks", f"u{u}", value))
    return out


def sale_window(
    n: int, users: int, skus: int, *, start: datetime, seed: int, step_ms: int = 1
) -> list[SimEvent]:
    """``n`` events of sale traffic from ``start``, ``step_ms`` apart: clicks of random users on campaign SKUs
    (popular ones more often), ~3 % orders and ~1 % stock counts."""
    rng = np.random.default_rng(seed)
    campaign = np.arange(0, skus, 2)
    weights = 1.0 / np.arange(1, campaign.size + 1)  # Zipf: a few SKUs take much of the traffic
    picked = campaign[rng.permutation(campaign.size)][rng.choice(campaign.size, n, p=weights / weights.sum())]
    who, kind = rng.integers(0, users, n), rng.random(n)
    actions = rng.choice(len(ACTIONS), n, p=ACTION_P)
    out = []
    for i in range(n):
        ts, sku, user = iso(start + timedelta(milliseconds=i * step_ms)), f"sku-{picked[i]}", f"u{who[i]}"
        event_id = f"w{seed}-{i}"
        if kind[i] < ORDER_SHARE:
            value = {"event_id": event_id, "order_id": event_id, "user_id": user, "sku": sku, "quantity": 1,
                     "unit_price": round((10.0 + picked[i] % 90) * 0.8, 2), "ts": ts}  # fmt: skip
            out.append(SimEvent("orders", user, value))
        elif kind[i] < ORDER_SHARE + STOCK_SHARE:
            level = {
                "event_id": event_id,
                "sku": sku,
                "on_hand": int(rng.integers(50, 500)),
                "inbound": 0,
                "ts": ts,
            }
            out.append(SimEvent("stock", sku, level))
        else:
            action = ACTIONS[actions[i]]
            query = QUERIES[i % len(QUERIES)] if action == "search" else None
            value = {"event_id": event_id, "user_id": user, "action": action, "ts": ts,
                     "sku": None if query else sku, "query": query}  # fmt: skip
            out.append(SimEvent("clicks", user, value))
    return out
