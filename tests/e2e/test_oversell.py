"""Orders for a sold-out SKU: still counted as sold (the sale happened), and flagged as oversold in the
SKU's ``sku-status`` and in ``flashsale_oversold_units_total``; a sale that never oversells flags nothing.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.settings import Settings

pytestmark = pytest.mark.e2e
SOLD_OUT = "sku-pan"  # 14 in stock, sold out within the scripted sale's first minutes


def oversold_metric(settings: Settings) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "flashsale_oversold_units_total"
    )


def test_orders_beyond_the_stock_are_counted_and_flagged(
    settings: Settings, sale: Any, publish: Callable, start_worker: Callable, read_topic: Callable, e2e: Any
) -> None:
    stock_left = [m.data["on_hand"] for m in sale.of("stock") if m.data["sku"] == SOLD_OUT]
    assert stock_left[7] == 0  # the premise: the snapshot at 7:01 says it is gone
    extra = []
    for n, (seconds, quantity) in enumerate(((8 * 60 + 30, 3), (9 * 60 + 30, 2))):  # after that snapshot
        ts = sale.at(seconds)
        order = {"event_id": f"oversold-{n}", "order_id": f"oversold-{n}", "user_id": "carol",
                 "sku": SOLD_OUT, "quantity": quantity, "unit_price": 28.0, "ts": ts.isoformat()}  # fmt: skip
        extra.append(e2e.message("orders", b"carol", json.dumps(order).encode(), ts.timestamp()))
    sold = {
        sku: sum(m.data["quantity"] for m in sale.of("orders") if m.data["sku"] == sku)
        for sku in sale.products
    }
    publish(settings, sorted(sale.messages + extra, key=lambda m: m.ts))
    start_worker(settings)

    def last_status(records: list[Any]) -> dict[str, dict[str, Any]]:
        return {(s := json.loads(r.value))["sku"]: s for r in records}

    expected = {**sold, SOLD_OUT: sold[SOLD_OUT] + 5}
    statuses = last_status(read_topic(settings, "sku-status").until(
        lambda records: {k: v["units_sold"] for k, v in last_status(records).items()} == expected
    ))  # fmt: skip
    flagged = {sku: (s["oversold_units"], s["oversold_orders"]) for sku, s in statuses.items()}
    assert flagged == {**dict.fromkeys(sale.products, (0, 0)), SOLD_OUT: (5, 2)}
    assert oversold_metric(settings) == 5
