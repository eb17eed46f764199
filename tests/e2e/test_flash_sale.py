"""The scripted flash sale through one real worker: what comes out is what the models say it must be.

Recommendations follow what a user clicked; the fast seller and the early sell-out are restocked
exactly as models/policy/restock.py computes from the sale's own per-bucket units (until the script's
supplier, which takes no order, is found out); slow sellers get deeper discounts and the early sell-out
a shallower one, within the campaign's bounds; Postgres holds each decision on the topics exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from models.recommend.reasons import REASON_KINDS
from streams.settings import Settings
from tests.e2e.conftest import CLICKERS, SEARCHES

pytestmark = pytest.mark.e2e

SLOW_SELLERS = ("sku-knife", "sku-mat")  # plenty of stock, few or no orders
EARLY_SELLOUT = "sku-pan"  # 14 in stock, 4 a minute
FAST_SELLER = "sku-earbuds"  # 60 in stock, 9 a minute


def latest_recommendation(records: list[Any], click: dict[str, Any]) -> dict[str, Any] | None:
    """The recommendation made on ``click`` (the user's last click), if it has come out yet."""
    found = [
        json.loads(r.value) for r in records if json.loads(r.value)["source_event_id"] == click["event_id"]
    ]
    return found[-1] if found else None


def assert_new_first_with_true_reasons(recommendation: dict[str, Any], user: str, sale: Any) -> None:
    """What the user has not touched comes first, what they clicked only fills the list; every reason
    names one of the user's own clicks or searches, or the item's sales."""
    touched = set(CLICKERS[user])
    skus = [item["sku"] for item in recommendation["items"]]
    new = [sku for sku in skus if sku not in touched]
    assert new and skus[: len(new)] == new and set(skus[len(new) :]) <= touched, skus
    own = [sale.products[sku].title for sku in touched]
    own += [query for event_id, query in SEARCHES.items() if event_id.startswith(f"click-{user}-")]
    for item in recommendation["items"]:
        assert item["reason_kind"] in REASON_KINDS, item
        if item["reason_kind"] not in ("trending", "popular"):
            assert any(signal in item["reason"] for signal in own), (user, item)


def assert_discount_policy(discounts: dict[str, dict[str, Any]], sale: Any, settings: Settings) -> None:
    """Each SKU's discounts chain from the campaign's, move at most one step, stay in bounds, cool down."""
    campaign = sale.campaign
    for sku in sale.products:
        current, last = campaign["discount"], None
        for d in sorted((d for d in discounts.values() if d["sku"] == sku), key=lambda d: d["ts"]):
            assert d["campaign_id"] == campaign["campaign_id"]
            assert d["old_discount"] == pytest.approx(current)
            assert campaign["min_discount"] <= d["new_discount"] <= campaign["max_discount"]
            assert abs(d["new_discount"] - d["old_discount"]) <= settings.discount_max_step + 1e-9
            cooldown = timedelta(minutes=settings.discount_cooldown_minutes)
            assert last is None or d["ts"] - last >= cooldown
            current, last = d["new_discount"], d["ts"]


def test_scripted_flash_sale(
    settings: Settings,
    db_schema: str,
    sale: Any,
    publish: Callable,
    start_worker: Callable,
    read_topic: Callable,
    decision_rows: Callable,
    e2e: Any,
) -> None:
    # The script's shop reports stock every minute, so it would show an order it took within a minute;
    # its supplier takes none, and the policy is to know that before the pan sells out.
    settings = settings.model_copy(update={"restock_confirm_minutes": 1})
    publish(settings, sale.messages)
    start_worker(settings)
    expected = e2e.replay_decisions(sale.messages, settings)

    restock_topic = read_topic(settings, "restock")
    discount_topic = read_topic(settings, "discount-adjustments")
    restock_topic.until(lambda rs: len(e2e.decisions_of(rs)) >= len(expected["restock"]))
    discount_topic.until(lambda rs: len(e2e.decisions_of(rs)) >= len(expected["discount"]))

    # Postgres: every decision on the topics, once (the primary key is event_id).
    restock_rows = decision_rows(db_schema, "restock", len(expected["restock"]))
    discount_rows = decision_rows(db_schema, "discount", len(expected["discount"]))
    restock_records, discount_records = restock_topic.to_end(), discount_topic.to_end()
    restocks, discounts = e2e.decisions_of(restock_records), e2e.decisions_of(discount_records)
    assert e2e.row_decisions(restock_rows) == restocks and len(restock_rows) == len(restocks)
    assert e2e.row_decisions(discount_rows) == discounts and len(discount_rows) == len(discounts)
    assert len(restock_records) == len(restocks) and len(discount_records) == len(discounts)  # no repeats

    # Restock: exactly what models/policy/restock.py decides on the script's own per-bucket units.
    assert restocks == e2e.expected_restocks(sale, settings, discounts)
    fast = sorted((r for r in restocks.values() if r["sku"] == FAST_SELLER), key=lambda r: r["ts"])
    assert fast and fast[0]["on_hand"] == sale.products[FAST_SELLER].stock and fast[0]["inbound"] == 0
    # The order covers at least the demand it is expected to meet after it lands.
    assert fast[0]["on_hand"] + fast[0]["quantity"] >= fast[0]["forecast_units"]
    assert all(r["quantity"] >= 1 for r in restocks.values())
    assert not [r for r in restocks.values() if r["sku"] in SLOW_SELLERS]

    # Discounts: deeper for slow sellers, shallower for the early sell-out, within the policy's bounds.
    assert discounts == expected["discount"]
    assert_discount_policy(discounts, sale, settings)
    for sku in (*SLOW_SELLERS, EARLY_SELLOUT):
        moves = [d["new_discount"] - d["old_discount"] for d in discounts.values() if d["sku"] == sku]
        assert moves and all(m > 0 if sku in SLOW_SELLERS else m < 0 for m in moves), (sku, moves)

    # Recommendations: a user's latest list puts the category they clicked first.
    alice, bob = sale.last_click("alice"), sale.last_click("bob")
    recs = read_topic(settings, "recommendations").until(
        lambda rs: all(latest_recommendation(rs, click) for click in (alice, bob))
    )
    assert_new_first_with_true_reasons(latest_recommendation(recs, alice), "alice", sale)
    assert_new_first_with_true_reasons(latest_recommendation(recs, bob), "bob", sale)
