"""Distinct, realistic search queries and the ``clicks`` search events that carry them.

Queries combine the simulator catalogue's vocabulary (brand, model, shopper query, variant, price cap),
so about a million are distinct: an LRU query cache cannot inflate the BERT stage's figure.

>>> qs = distinct_queries(1000)
>>> len(qs) == len(set(qs)) == 1000
True
"""

from __future__ import annotations

import itertools
import random

from models.sim.catalog import CATEGORIES
from models.sim.market import SimEvent

PRICE_CAPS = range(10, 1000, 5)  # "under 735": the same shape of query, many more distinct ones


def _phrases() -> list[tuple[str, str, str, str]]:
    return [
        (brand, model, query, variant.lower())
        for category in CATEGORIES
        for product in category.products
        for query, brand, model, variant in itertools.product(
            product.queries, category.brands, category.models, category.variants
        )
    ]


def distinct_queries(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct queries drawn uniformly (seeded) from about a million combinations."""
    phrases = _phrases()
    total = len(phrases) * len(PRICE_CAPS)
    if n > total:
        raise ValueError(f"only {total} distinct queries can be made, asked for {n}")
    picks = random.Random(seed).sample(range(total), n)
    out = []
    for pick in picks:
        brand, model, query, variant = phrases[pick // len(PRICE_CAPS)]
        out.append(f"{brand} {model} {query} {variant} under {PRICE_CAPS[pick % len(PRICE_CAPS)]}")
    return out


def search_events(queries: list[str], n_users: int, first_id: int = 0) -> list[SimEvent]:
    """One ``clicks`` search event per query, users in turn; ``ts`` is set when the event is sent.

    >>> search_events(["air fryer"], 10, first_id=5)[0].value["event_id"]
    'bench-search-5'
    """
    events = []
    for i, query in enumerate(queries, start=first_id):
        user = f"bu{i % n_users:06d}"
        value = {"event_id": f"bench-search-{i}", "user_id": user, "sku": None, "action": "search"}
        events.append(SimEvent("clicks", user, {**value, "query": query, "ts": None}))
    return events
