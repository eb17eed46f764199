"""A user's slot: redeliveries refused, old ids forgotten (its encoding: test_state_codec.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from models.recommend.embeddings import UserVector
from streams.runtime.dedup import digest
from streams.users.state import UserSlot

T0 = datetime(2024, 11, 11, tzinfo=UTC)


def a_slot() -> UserSlot:
    vector = UserVector.empty(4).learn_one(np.array([1.0, 2.0, 0.0, 0.5]), "click", T0)
    slot = UserSlot(vector, recommended_at=12.5)
    slot.accept("clicks/0", 41)
    slot.times.saw("clicks/0", 99.0)
    slot.seen.note(("clicks:e:e1",), 99.0)
    return slot


def test_old_ids_are_forgotten_once_no_acceptable_event_can_repeat_them() -> None:
    slot = a_slot()
    slot.times.saw("orders/0", 150.0)
    slot.seen.note(("orders:e:e2",), 150.0)
    slot.forget_old_ids(window_s=30, lateness_s=5)  # the oldest source is at 99: before 64 goes
    assert set(slot.seen.ids) == {digest("clicks:e:e1"), digest("orders:e:e2")}
    slot.times.saw("clicks/0", 200.0)
    slot.forget_old_ids(window_s=30, lateness_s=5)  # now at 150: before 115 goes
    assert set(slot.seen.ids) == {digest("orders:e:e2")}
