"""Producer duplicates: which events count as re-sent, and why pruning the memory never changes that."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from streams.contracts.records import CatalogItem, Click, Order, StockLevel
from streams.runtime.dedup import RecentIds, event_ids, header_ids

TS = datetime(2026, 11, 11, 12, tzinfo=UTC)


def test_an_event_is_known_by_its_event_id_and_an_order_also_by_its_order_id() -> None:
    order = Order(event_id="e1", order_id="o1", user_id="u1", sku="s", quantity=1, unit_price=2.0, ts=TS)
    click = Click(event_id="e2", user_id="u1", action="view", sku="s", ts=TS)
    stock = StockLevel(event_id="e3", sku="s", on_hand=1, inbound=0, ts=TS)
    item = CatalogItem(sku="s", title="Phone", category="c", base_price=1.0, updated_at=TS)
    assert [event_ids(r) for r in (order, click, stock, item)] == [("e:e1", "o:o1"), ("e:e2",), ("e:e3",), ()]


def test_ids_travel_in_a_header_that_survives_any_character() -> None:
    import json

    ids = ('e:a "quoted" id with spaces', "o:ünïcode")
    assert header_ids({"ids": json.dumps(ids).encode()}) == ids
    assert header_ids({}) == ()  # forwarded by a worker from before deduplication


def test_a_copy_is_a_duplicate_only_within_the_window_of_its_original() -> None:
    seen = RecentIds()
    seen.note(("e:1", "o:1"), 1000.0)
    assert seen.duplicate(("e:1",), 1000.0, window_s=60)  # a retry: same id, same time
    assert seen.duplicate(("e:9", "o:1"), 1050.0, window_s=60)  # a new event_id for the same order
    assert not seen.duplicate(("e:1",), 1061.0, window_s=60)  # re-sent after the window: counts again
    assert not seen.duplicate(("e:2", "o:2"), 1000.0, window_s=60)
    seen.note(("e:1",), 2000.0)  # applied again, far from the first: its window starts afresh
    assert seen.duplicate(("e:1",), 2030.0, window_s=60) and not seen.duplicate(("e:1",), 1030.0, window_s=60)


def test_pruning_at_any_safe_moment_drops_the_same_copies() -> None:
    """Ids are forgotten only when older than anything still acceptable (here: the stream's progress,
    less the lateness, less the window); the answers are those of a memory that forgets nothing."""
    rng, window, lateness = random.Random(7), 60.0, 5.0
    pruned, kept = RecentIds(), RecentIds()
    progress, answers = 0.0, []
    for n in range(5000):
        t = progress - rng.uniform(0, lateness)  # never later than the lateness behind the progress
        progress += rng.uniform(0, 2)
        ids = (f"e:{rng.randrange(n + 1)}",)  # many repeats, some far apart in time
        answers.append((pruned.duplicate(ids, t, window), kept.duplicate(ids, t, window)))
        pruned.note(ids, t)
        kept.note(ids, t)
        if rng.random() < 0.1:
            pruned.forget_before(progress - lateness - window)
    assert all(a == b for a, b in answers)
    assert sum(a for a, _ in answers) > 100 and len(pruned.ids) < len(kept.ids) / 5
