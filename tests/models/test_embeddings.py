import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.recommend.embeddings import ACTION_WEIGHTS, UserVector, vector_norm

T0 = datetime(2024, 11, 11, tzinfo=UTC)
A, B = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])


def test_an_order_moves_the_vector_more_than_a_view() -> None:
    u = UserVector.empty(3).learn_one(A, "view", T0)
    after_view = u.learn_one(B, "view", T0 + timedelta(seconds=1)).embedding()
    after_order = u.learn_one(B, "order", T0 + timedelta(seconds=1)).embedding()
    assert after_order @ B > after_view @ B


def test_weight_halves_after_one_half_life_and_newer_events_count_double() -> None:
    u = UserVector.empty(3, half_life_s=600).learn_one(A, "click", T0)
    assert u.weight_at(T0 + timedelta(seconds=600)) == pytest.approx(u.weight / 2)
    u = u.learn_one(B, "click", T0 + timedelta(seconds=600))
    e = u.embedding()
    assert e[1] / e[0] == pytest.approx(2.0, rel=1e-5)
    assert np.linalg.norm(e) == pytest.approx(1.0, rel=1e-6)


def test_out_of_order_events_give_the_same_state_as_in_order() -> None:
    events = [(A, "view", 0), (B, "order", 900), (A + B, "search", 300), (B, "add_to_cart", 1200)]
    states = []
    for order in (events, events[::-1]):
        u = UserVector.empty(3, half_life_s=1800)
        for v, action, s in order:
            u = u.learn_one(v, action, T0 + timedelta(seconds=s))
        states.append(u)
    np.testing.assert_allclose(states[0].embedding(), states[1].embedding(), rtol=1e-5)
    assert states[0].weight == pytest.approx(states[1].weight)


def test_state_round_trips_through_json_and_rejects_bad_input() -> None:
    u = UserVector.empty(3).learn_one(A + B, "click", T0)
    back = UserVector.from_dict(json.loads(json.dumps(u.to_dict())))
    np.testing.assert_array_equal(back.embedding(), u.embedding())
    with pytest.raises(ValueError):
        u.learn_one(A, "purchase", T0)
    with pytest.raises(ValueError):
        u.learn_one(np.zeros(3), "view", T0)


def test_learn_checked_is_learn_one_without_the_checks() -> None:
    rng = np.random.default_rng(3)
    checked = unchecked = UserVector.empty(8)
    for action, offset_s in [("view", 0), ("order", 900), ("search", 300), ("click", 1200)]:  # one late
        item, t = rng.normal(size=8).astype(np.float32), T0 + timedelta(seconds=offset_s)
        checked = checked.learn_one(item, action, t)
        norm = vector_norm(item)
        assert norm is not None
        unchecked = unchecked.learn_checked(item, norm, ACTION_WEIGHTS[action], t.timestamp())
        assert checked.mean.tobytes() == unchecked.mean.tobytes()  # bit for bit
        assert (checked.weight, checked.ts) == (unchecked.weight, unchecked.ts)
    assert vector_norm(np.zeros(3)) is None and vector_norm(np.array([np.nan, 1.0])) is None
