"""A user's slot as it is stored in the ``users`` changelog: compact, exact, and still able to read
slots stored before the compact form."""

from __future__ import annotations

import copyreg
import io
import pickle
from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.recommend.embeddings import UserVector
from streams.users.agents import UserSlot

T0 = datetime(2024, 11, 11, tzinfo=UTC)


def a_slot() -> UserSlot:
    slot = UserSlot(UserVector.empty(4).learn_one(np.array([1.0, 2.0, 0.0, 0.5]), "click", T0), 12.5)
    slot.accept("clicks/0", 41)
    slot.times.saw("clicks/0", 99.0)
    slot.seen.note(("clicks:e:e1",), 99.0)
    return slot


class Before(pickle.Pickler):
    """Pickles a slot as the dataclass default did: class and ``__dict__``."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is UserSlot:
            return copyreg.__newobj__, (UserSlot,), obj.__dict__
        return NotImplemented


def pickled_as_before(slot: UserSlot) -> bytes:
    buffer = io.BytesIO()
    Before(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(slot)
    return buffer.getvalue()


def assert_same(back: UserSlot, slot: UserSlot) -> None:
    got, want = back.vector, slot.vector
    assert got.mean.tobytes() == want.mean.tobytes() and got.mean.dtype == np.float32
    assert (got.weight, got.ts, got.half_life_s) == (want.weight, want.ts, want.half_life_s)
    assert back.recommended_at == 12.5
    assert (back.received, back.times.latest) == ({"clicks/0": 41}, {"clicks/0": 99.0})
    assert back.seen.ids == {"clicks:e:e1": 99.0}


def test_a_slot_round_trips_through_its_changelog_bytes() -> None:
    slot = a_slot()
    raw = pickle.dumps(slot, protocol=pickle.HIGHEST_PROTOCOL)
    back = pickle.loads(raw)
    assert_same(back, slot)
    assert not back.accept("clicks/0", 41) and back.accept("clicks/0", 42)  # redeliveries still refused
    later = back.vector.learn_one(np.array([0.0, 1.0, 0.0, 0.0]), "order", T0)  # a read-only buffer is fine
    assert later.weight > back.vector.weight
    assert len(raw) < len(pickled_as_before(slot)) / 2  # plain values and the vector's bytes


def test_slots_pickled_before_the_compact_form_still_load() -> None:
    slot = a_slot()
    raw = pickled_as_before(slot)
    assert b"_restore_slot" not in raw
    assert_same(pickle.loads(raw), slot)


def test_compact_slots_stored_before_deduplication_still_load() -> None:
    slot = a_slot()
    _restore, args = slot.__reduce__()
    back = _restore(*args[:-1])  # the compact form had no ids
    assert back.seen.ids == {} and back.received == slot.received


def test_old_ids_are_forgotten_once_no_acceptable_event_can_repeat_them() -> None:
    slot = a_slot()
    slot.times.saw("orders/0", 150.0)
    slot.seen.note(("orders:e:e2",), 150.0)
    slot.forget_old_ids(window_s=30, lateness_s=5)  # the oldest source is at 99: before 64 goes
    assert set(slot.seen.ids) == {"clicks:e:e1", "orders:e:e2"}
    slot.times.saw("clicks/0", 200.0)
    slot.forget_old_ids(window_s=30, lateness_s=5)  # now at 150: before 115 goes
    assert set(slot.seen.ids) == {"orders:e:e2"}
