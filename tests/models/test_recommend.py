import re

import numpy as np
import pytest

from models.recommend.embeddings import UserVector
from models.recommend.profile import Item, UserProfile
from models.recommend.ranking import Ranker, best_rows, rank
from models.recommend.reasons import REASON_KINDS, Signal, closest_signals

ITEMS = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [0.6, 0.8]], dtype=np.float32)
SKUS = ["a", "b", "c", "d"]


def test_a_cold_user_gets_what_sells_with_its_true_counts() -> None:
    sales, last_10_min = np.array([0.0, 42.0, 3.0, 1.0]), np.array([0, 12, 0, 1])
    recs = rank(None, ITEMS, SKUS, sales, k=3, recent_orders=last_10_min)
    assert [r.sku for r in recs] == ["b", "c", "d"]
    assert [(r.kind, r.reason) for r in recs] == [
        ("trending", "trending: 12 sold in the last 10 min"),
        ("popular", "popular: 3 sold so far"),
        ("trending", "trending: 1 sold in the last 10 min"),
    ]


def test_taste_puts_the_visited_category_first_even_above_better_sellers() -> None:
    categories = ["audio", "kitchen", "audio", "kitchen"]
    sales = np.array([2.0, 50.0, 1.0, 40.0])
    assert [r.sku for r in rank(None, ITEMS, SKUS, sales, k=2, categories=categories)] == ["b", "d"]
    viewed = Signal("viewed", "Sony WH-1000XM5", ITEMS[0], "audio")
    recs = rank(None, ITEMS, SKUS, sales, k=2, categories=categories, taste={"audio": 12.0}, signals=[viewed])
    assert [r.sku for r in recs] == ["a", "c"]  # within the category, the better seller first
    assert {r.reason for r in recs} == {"because you viewed Sony WH-1000XM5"}


def test_a_list_answering_a_search_brings_in_what_matches_the_query() -> None:
    categories = ["audio", "kitchen", "audio", "kitchen"]
    query = Signal("searched", "kettle", np.array([0.0, 1.0], dtype=np.float32))
    sales, taste = np.array([30.0, 1.0, 20.0, 1.0]), {"audio": 9.0}
    assert [r.sku for r in rank(None, ITEMS, SKUS, sales, k=2, categories=categories, taste=taste)] == [
        "a",
        "c",
    ]
    recs = rank(None, ITEMS, SKUS, sales, k=2, categories=categories, taste=taste, query=query)
    assert [(r.sku, r.kind, r.reason) for r in recs] == [
        ("a", "popular", "popular: 30 sold so far"),  # the user's taste, but no signal of theirs to name
        ("b", "searched", 'because you searched for "kettle"'),  # the best match to the query
    ]


def test_a_ranker_reused_across_users_ranks_each_as_a_fresh_rank_would() -> None:
    sales, orders, categories = np.array([5.0, 0.0, 1.0, 2.0]), np.array([3, 0, 1, 0]), ["x", "y", "x", "y"]
    ranker = Ranker(ITEMS, SKUS, sales, categories, recent_orders=orders)
    users = [
        (None, {}),
        (np.array([1.0, 0.1]), {"y": 2.0}),
        (np.zeros(2), {}),
        (np.array([0.2, 1.0]), {"x": 1.0}),
    ]
    for vector, taste in users:  # cold and warm, mixed
        fresh = rank(
            vector, ITEMS, SKUS, sales, k=3, categories=categories, recent_orders=orders, taste=taste
        )
        assert ranker.top(vector, k=3, taste=taste) == fresh
    assert [r.sku for r in ranker.top(None, k=2, taste={"y": 9.0})] != [r.sku for r in ranker.top(None, k=2)]


# --- reasons that are true, lists that show something new ------------------------------------------

HEADPHONES = {"h1": "Sony WH-1000XM5 headphones", "h2": "Bose QC45 headphones", "h3": "AKG K371 headphones",
              "h4": "Sennheiser HD 560S headphones", "h5": "JBL Tune 760 headphones",
              "h6": "Beyerdynamic DT 770 headphones", "h7": "Audio-Technica M50x headphones"}  # fmt: skip
SPEAKERS = {"s1": "JBL Flip 6 speaker", "s2": "Echo Dot smart speaker", "s3": "UE Boom 3 speaker",
            "s4": "Sonos Roam speaker"}  # fmt: skip
CATEGORY = {
    **dict.fromkeys(HEADPHONES, "Headphones"),
    **dict.fromkeys(SPEAKERS, "Speakers & Voice Assistants"),
}


def unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def catalog(seed: int) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Headphones near the first axis, speakers near the second (a little of each in every item)."""
    titles = {**HEADPHONES, **SPEAKERS}
    rng = np.random.default_rng(seed)
    rows = [unit([1.0, 0.3 + rng.random() * 0.3, rng.random()]) for _ in HEADPHONES]
    rows += [unit([0.5 + rng.random() * 0.3, 1.0, rng.random()]) for _ in SPEAKERS]
    return list(titles), np.stack(rows), titles


@pytest.mark.parametrize("seed", range(6))
def test_a_headphones_only_user_is_never_told_of_other_activity_and_never_offered_a_bought_item(
    seed: int,
) -> None:
    skus, items, titles = catalog(seed)
    describe = {s: Item(titles[s], items[i], CATEGORY[s]) for i, s in enumerate(skus)}
    rng = np.random.default_rng(seed)
    sales = np.concatenate([rng.integers(0, 5, len(HEADPHONES)), rng.integers(20, 90, len(SPEAKERS))])
    last_10_min = sales // 3  # the speakers sell most
    ranker = Ranker(items, skus, sales.astype(float), [CATEGORY[s] for s in skus], recent_orders=last_10_min)
    user = UserProfile(UserVector.empty(3))
    journey = [("h1", "view"), ("h2", "click"), ("h2", "add_to_cart"), ("h2", "order"), ("h3", "view"),
               ("h4", "click"), ("h5", "view"), ("h5", "order")]  # fmt: skip
    for t, (sku, action) in enumerate(journey):
        user.learn(sku, action, float(t), (describe[sku].vector, 1.0), CATEGORY[sku])
        for share in (0, 2):  # none of what was touched lately, or two slots of it
            recs = ranker.top(
                user.vector.embedding(), 6, taste=user.taste, signals=user.signals(describe.get),
                exclude=user.bought, recent=user.recent(float(t), 600.0), recent_limit=share,
            )  # fmt: skip
            assert len(recs) == 6  # 11 candidates, at most two bought: always full
            assert not {r.sku for r in recs} & set(user.bought)  # bought: never listed
            assert sum(r.sku in user.recent(float(t), 600.0) for r in recs) <= share
            for r in recs:
                assert_true_reason(
                    r.kind, r.reason, {sku for sku, _ in journey[: t + 1]}, sales, last_10_min, skus
                )
    assert user.bought == ["h2", "h5"] and user.taste == {"Headphones": 5.0}


def assert_true_reason(kind: str, reason: str, touched: set[str], sales: np.ndarray, recent: np.ndarray,
                       skus: list[str]) -> None:  # fmt: skip
    """The reason names one of the user's own headphones, or sales figures that are the item's; it
    never names a category, a speaker or anything the user did not do."""
    assert kind in REASON_KINDS and "Speakers" not in reason and "activity" not in reason
    assert not any(title in reason for title in SPEAKERS.values())
    if kind in ("viewed", "clicked", "carted", "bought"):
        assert any(reason.endswith(HEADPHONES[sku]) or HEADPHONES[sku] in reason for sku in touched), reason
        return
    assert kind in ("trending", "popular"), (kind, reason)
    number = re.search(r"\d+", reason)
    counts = recent if kind == "trending" else sales
    assert number is None or int(number.group()) in counts.tolist(), reason


def test_a_similarity_reason_names_the_signal_closest_to_the_item() -> None:
    items = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    signals = [
        Signal("viewed", "a lamp", np.array([1.0, 0.0])),
        Signal("clicked", "a desk", np.array([0.0, 1.0])),
    ]
    assert closest_signals(items, signals) == [
        ("viewed", "because you viewed a lamp"), ("clicked", "because you clicked a desk")
    ]  # fmt: skip
    assert closest_signals(items, []) == [("similar", "similar to what you looked at earlier")] * 2


def test_a_list_has_k_items_while_k_candidates_exist() -> None:
    recent = {"a", "b", "c"}
    recs = rank(np.array([1.0, 0.1]), ITEMS, SKUS, np.zeros(4), k=4, recent=recent, recent_limit=0)
    assert sorted(r.sku for r in recs) == SKUS  # only recent ones left: they fill the list
    recs = rank(np.array([1.0, 0.1]), ITEMS, SKUS, np.zeros(4), k=2, recent=recent, recent_limit=0)
    assert recs[0].sku == "d"  # something new first
    assert len(rank(None, ITEMS, SKUS, np.zeros(4), k=4, exclude={"a"})) == 3


def test_a_user_without_signals_gets_no_made_up_one() -> None:
    for rec in rank(np.array([1.0, 0.0]), ITEMS, SKUS, np.zeros(4), k=4):
        assert (rec.kind, rec.reason) in {
            ("similar", "similar to what you looked at earlier"),
            ("popular", "on sale now"),
        }


def test_a_profile_counts_each_newly_visited_sku_once_for_its_category() -> None:
    user, vector = UserProfile(UserVector.empty(2)), (np.array([1.0, 0.0], dtype=np.float32), 1.0)
    for what, action, category in [("a", "view", "audio"), ("a", "click", "audio"), ("a", "order", "audio"),
                                   ("kettle", "search", None), ("k1", "view", "kitchen")]:  # fmt: skip
        user.learn(what, action, 0.0, vector, category)
    assert user.taste == {"audio": 1.0, "kitchen": 1.0} and user.bought == ["a"]
    assert user.recent(0.0, 60.0) == {"a", "k1"}  # a search is not an item
    assert [s.label for s in user.signals(lambda sku: Item(sku.upper(), vector[0], "x"))] == ["K1", "A"]


def test_best_rows_are_those_of_a_full_sort_ties_by_position() -> None:
    """The chunk-maximum shortcut keeps exactly the top of a stable sort, with many ties and few."""
    rng = np.random.default_rng(4)
    for _ in range(500):
        n, wanted = int(rng.integers(1, 400)), int(rng.integers(1, 30))
        scores = rng.choice([rng.random(n), rng.integers(0, 4, n) / 4.0, np.sort(rng.random(n))], axis=0)
        expected = np.argsort(-scores, kind="stable")[:wanted]
        assert best_rows(scores, wanted).tolist() == expected.tolist()
