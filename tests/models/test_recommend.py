import json
from datetime import UTC, datetime, timedelta

import numpy as np

from models.recommend.embeddings import UserVector
from models.recommend.ranking import REASON_KINDS, PopularityTracker, Ranker, Signal, rank

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
    assert (recs[0].kind, recs[0].reason) == ("trending", "trending: 42 sold in the last 10 min")


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
    popularity, orders = np.array([5.0, 0.0, 1.0, 2.0]), np.array([3, 0, 1, 0])
    ranker = Ranker(ITEMS, SKUS, popularity, recent_orders=orders)
    for user in (None, np.array([1.0, 0.1]), np.zeros(2), np.array([0.2, 1.0])):  # cold and warm, mixed
        fresh = rank(user, ITEMS, SKUS, popularity, k=3, recent_orders=orders)
        assert ranker.top(user, k=3) == fresh
    assert [r.sku for r in ranker.top(np.array([0.2, 1.0]), k=2)] != [r.sku for r in ranker.top(None, k=2)]


# --- reasons that are true, lists that show something new ------------------------------------------

HEADPHONES = {"h1": "Sony WH-1000XM5 headphones", "h2": "Bose QC45 headphones", "h3": "AKG K371 headphones",
              "h4": "Sennheiser HD 560S headphones", "h5": "JBL Tune 760 headphones"}  # fmt: skip
SPEAKERS = {"s1": "JBL Flip 6 speaker", "s2": "Echo Dot smart speaker", "s3": "UE Boom 3 speaker"}


def unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def catalog() -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Headphones near the first axis, speakers near the second (a little of each in every item)."""
    titles = {**HEADPHONES, **SPEAKERS}
    rng = np.random.default_rng(3)
    rows = [unit([1.0, 0.3 + rng.random() * 0.3, rng.random()]) for _ in HEADPHONES]
    rows += [unit([0.5 + rng.random() * 0.3, 1.0, rng.random()]) for _ in SPEAKERS]
    return list(titles), np.stack(rows), titles


def test_a_headphones_only_user_is_never_told_of_other_activity_and_never_offered_a_bought_item() -> None:
    skus, items, titles = catalog()
    user, signals = UserVector.empty(3), []
    for sku in ("h1", "h2", "h3", "h4", "h5"):
        user = user.learn_checked(items[skus.index(sku)], 1.0, 2.0, 0.0)
        signals.append(Signal("clicked", titles[sku], items[skus.index(sku)]))
    popularity = np.array([0, 0, 0, 0, 0, 30, 20, 10], dtype=float)  # the speakers sell
    recs = rank(user.embedding(), items, skus, popularity, k=4, recent_orders=popularity, signals=signals,
                exclude={"h2"}, recent={"h1", "h3", "h4", "h5"}, recent_limit=1)  # fmt: skip
    assert "h2" not in [r.sku for r in recs] and len(recs) == 4
    assert sum(r.sku in {"h1", "h3", "h4", "h5"} for r in recs) <= 1  # what was just clicked: one slot
    for r in recs:
        assert r.kind in REASON_KINDS and "Speakers" not in r.reason and "activity" not in r.reason
        if r.kind == "clicked":
            assert any(title in r.reason for title in HEADPHONES.values())  # one the user clicked


def test_a_similarity_reason_names_the_signal_closest_to_the_item() -> None:
    items = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    signals = [
        Signal("viewed", "a lamp", np.array([1.0, 0.0])),
        Signal("searched", "desk", np.array([0.0, 1.0])),
    ]
    recs = rank(np.array([1.0, 1.0]), items, ["lamp-2", "desk-2"], np.zeros(2), k=2, signals=signals)
    assert {r.sku: r.reason for r in recs} == {"lamp-2": "because you viewed a lamp",
                                               "desk-2": 'because you searched for "desk"'}  # fmt: skip


def test_a_list_has_k_items_while_k_candidates_exist() -> None:
    recent = {"a", "b", "c"}
    recs = rank(np.array([1.0, 0.1]), ITEMS, SKUS, np.zeros(4), k=4, recent=recent, recent_limit=0)
    assert sorted(r.sku for r in recs) == SKUS  # only recent ones left: they fill the list
    recs = rank(np.array([1.0, 0.1]), ITEMS, SKUS, np.zeros(4), k=2, recent=recent, recent_limit=0)
    assert recs[0].sku == "d"  # something new first
    assert len(rank(None, ITEMS, SKUS, np.zeros(4), k=4, exclude={"a"})) == 3


def test_a_user_without_signals_gets_no_made_up_one() -> None:
    (rec,) = rank(np.array([1.0, 0.0]), ITEMS, SKUS, np.zeros(4), k=1)
    assert (rec.kind, rec.reason) == ("similar", "similar to what you looked at earlier")
