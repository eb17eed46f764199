import json
from datetime import UTC, datetime, timedelta

import numpy as np

from models.recommend.ranking import PopularityTracker, Ranker, rank

ITEMS = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [0.6, 0.8]], dtype=np.float32)
SKUS = ["a", "b", "c", "d"]
T0 = datetime(2024, 11, 11, tzinfo=UTC)


def test_similar_items_come_first_and_the_mask_is_respected() -> None:
    flat = np.zeros(4)
    assert [r.sku for r in rank(np.array([1.0, 0.1]), ITEMS, SKUS, flat, k=3)] == ["a", "c", "d"]
    mask = np.array([False, True, True, True])
    recs = rank(np.array([1.0, 0.1]), ITEMS, SKUS, flat, k=10, mask=mask)
    assert [r.sku for r in recs] == ["c", "d", "b"]


def test_cold_user_gets_trending_items_with_counts() -> None:
    orders = np.array([0.0, 42.0, 3.0, 0.0])
    recs = rank(None, ITEMS, SKUS, orders, k=2, recent_orders=orders)
    assert [r.sku for r in recs] == ["b", "c"]
    assert recs[0].reason == "trending: 42 orders in the last 10 min"


def test_popularity_window_is_event_time_and_state_round_trips() -> None:
    p = PopularityTracker(window_s=600)
    p.learn_one("a", "order", T0)
    p.learn_one("a", "click", T0 + timedelta(minutes=12))
    p.learn_one("a", "order", T0 + timedelta(minutes=8))  # late but inside the window
    assert p.counts("a") == (1.0, 1.0)
    p = PopularityTracker.from_dict(json.loads(json.dumps(p.to_dict())))
    scores, orders = p.arrays(["a", "zzz"])
    assert orders.tolist() == [1.0, 0.0] and scores[0] > scores[1] == 0


def test_a_ranker_reused_across_users_ranks_each_as_a_fresh_rank_would() -> None:
    popularity, orders, categories = np.array([5.0, 0.0, 1.0, 2.0]), np.array([3, 0, 1, 0]), list("wxyz")
    ranker = Ranker(ITEMS, SKUS, popularity, categories=categories, recent_orders=orders)
    for user in (None, np.array([1.0, 0.1]), np.zeros(2), np.array([0.2, 1.0])):  # cold and warm, mixed
        fresh = rank(user, ITEMS, SKUS, popularity, k=3, categories=categories, recent_orders=orders)
        assert ranker.top(user, k=3) == fresh
    assert [r.sku for r in ranker.top(np.array([0.2, 1.0]), k=2)] != [r.sku for r in ranker.top(None, k=2)]
