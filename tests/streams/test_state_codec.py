"""Table values as data: golden encodings per format version, exact round trips, and changelog values
that are not a state (a pickle that would run code, a truncated or foreign value) refused on recovery."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgpack
import numpy as np
import pytest
from faust.types import TP

from models.experiment.tally import CampaignTally
from models.ids import from_epoch
from models.policy.control import BucketOutcome
from models.policy.sku_state import SkuState
from models.recommend.embeddings import UserVector
from streams import metrics
from streams.app import create_app
from streams.experiment.state import EXPERIMENT_CAMPAIGNS, EXPERIMENT_CLOCKS, ExperimentClock
from streams.runtime.clock import Inbox, PartitionClock, SourceMark
from streams.runtime.codec import MAGIC, StateCodec, StateError, integer, number, str_map, texts
from streams.runtime.dedup import digest
from streams.runtime.faust_internals import local_get
from streams.runtime.tablestate import state_table
from streams.settings import Settings
from streams.skus.state import SKU_CLOCKS, SKU_SLOTS, SkuSlot, clock_to_plain
from streams.users.state import USER_POSITIONS, USER_SLOTS, UserSlot

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "state"
T0 = 1_762_862_400.0  # 2025-11-11 12:00 UTC


def a_sku_slot() -> SkuSlot:
    state = SkuState("sku-7")
    campaign = {
        "campaign_id": "c1", "starts_at": "2025-11-11T12:00:00+00:00", "ends_at": "2025-11-11T14:00:00+00:00",
        "discount": 0.2, "min_discount": 0.05, "max_discount": 0.5, "restock_lead_minutes": 20,
    }  # fmt: skip
    state.apply({"title": "Phone", "base_price": 19.5, "campaign": campaign}, T0)
    state.apply({"on_hand": 30, "inbound": 0, "ts": "…"}, T0 + 1)
    for minute in range(6):
        state.apply(
            {"quantity": 1 + minute % 3, "unit_price": 9.5, "order_id": f"o{minute}"}, T0 + 60 * minute
        )
        state.advance(T0 + 60 * minute + 59)
    slot = SkuSlot(Inbox(), state)
    slot.inbox.accept("orders/1", 41, T0 + 400, "order", b'{"order_id": "o9"}', b"u1")
    slot.inbox.accept("stock/0", 7, T0 + 401, "stock", b'{"on_hand": 3}')
    slot.seen.note(("orders:e:e9", "orders:o:o9"), T0 + 400)
    return slot


def a_sku_clock() -> PartitionClock:
    clock = PartitionClock(expected=("orders/0", "stock/0"), lateness_s=5.0)
    clock.mark("orders/0", T0 + 100)
    clock.mark("stock/0", T0 + 90, idle=True)
    clock.watermark()
    clock.skus |= {"sku-7", "sku-9"}
    clock.position = 1234
    clock.received.saw("orders/0", T0 + 101)
    return clock


def a_user_slot() -> UserSlot:
    vector = UserVector.empty(4).learn_one(np.array([1.0, 2.0, 0.0, 0.5]), "click", from_epoch(T0))
    slot = UserSlot(vector, recommended_at=T0 + 12.5)
    slot.accept("clicks/0", 41)
    slot.times.saw("clicks/0", T0 + 99.0)
    slot.seen.note(("clicks:e:e1",), T0 + 99.0)
    item = (np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32), 1.0)
    slot.learn("sku-7", "view", T0 + 98.0, item, "audio")
    slot.learn("usb-c hub", "search", T0 + 99.0, item, None)
    slot.learn("sku-9", "order", T0 + 99.5, item, "electronics")
    return slot


def a_campaign_tally() -> CampaignTally:
    tally = CampaignTally("c1", bucket_s=60, pre_minutes=30)
    for minute in range(4):  # the campaign starts at minute 2
        for i, arm in enumerate(("treatment", "control", "treatment", "control", "treatment", "control")):
            units = float(i + minute)
            tally.observe(BucketOutcome("c1", T0 + 120, T0 + 3600, f"sku-{i}", arm, T0 + 60 * minute, units,
                                        9.5 * units, 10 + i, 9.5 if i else None))  # fmt: skip
    tally.close(T0 + 180)  # minutes 0-2 closed, minute 3 waiting
    return tally


def an_experiment_clock() -> ExperimentClock:
    clock = ExperimentClock.of(2)
    clock.mark("skus/0", T0 + 180)
    clock.campaigns.add("c1")
    clock.position = 77
    return clock


SAMPLES: dict[str, tuple[StateCodec[Any], Callable[[], Any]]] = {
    "sku-slot": (SKU_SLOTS, a_sku_slot),
    "sku-clock": (SKU_CLOCKS, a_sku_clock),
    "user-slot": (USER_SLOTS, a_user_slot),
    "user-position": (USER_POSITIONS, lambda: 1234),
    "experiment-campaign": (EXPERIMENT_CAMPAIGNS, a_campaign_tally),
    "experiment-clock": (EXPERIMENT_CLOCKS, an_experiment_clock),
}


def write_golden() -> None:
    """Write the fixture of each codec's current version (run once when a version is added)."""
    for kind, (codec, sample) in SAMPLES.items():
        path = GOLDEN / f"{kind}.v{codec.version}.bin"
        if not path.exists():
            path.write_bytes(codec.encode(sample()))


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_version_ever_written_still_decodes(kind: str) -> None:
    codec, sample = SAMPLES[kind]
    fixtures = sorted(GOLDEN.glob(f"{kind}.v*.bin"))
    assert [p.name for p in fixtures if p.name == f"{kind}.v{codec.version}.bin"], "no golden value"
    for path in fixtures:
        codec.decode(path.read_bytes())  # a version this worker can no longer read fails here
    current = (GOLDEN / f"{kind}.v{codec.version}.bin").read_bytes()
    assert codec.encode(sample()) == current, "the encoding changed: bump the version, keep the old one"
    assert codec.encode(codec.decode(current)) == current


def test_a_sku_slot_round_trips_exactly_and_decides_the_same() -> None:
    slot = a_sku_slot()
    back = SKU_SLOTS.decode(SKU_SLOTS.encode(slot))
    assert back.inbox == slot.inbox and back.seen == slot.seen
    assert back.state.to_state() == slot.state.to_state()
    later = T0 + 3600
    assert back.state.advance(later) == slot.state.advance(later)  # same forecasts, same decisions


def test_a_user_slot_round_trips_with_its_float32_vector() -> None:
    slot = a_user_slot()
    raw = USER_SLOTS.encode(slot)
    back = USER_SLOTS.decode(raw)
    assert back.vector.mean.dtype == np.float32 and back.vector.mean.tobytes() == slot.vector.mean.tobytes()
    want = slot.vector
    assert (back.vector.weight, back.vector.ts, back.recommended_at) == (want.weight, T0 + 99.5, T0 + 12.5)
    assert back.received == {"clicks/0": 41} and back.seen.ids == {digest("clicks:e:e1"): T0 + 99.0}
    assert back.touched == slot.touched and back.bought == ["sku-9"]
    assert back.taste == slot.taste == {"audio": 1.0, "electronics": 1.0}
    assert not back.accept("clicks/0", 41) and back.accept("clicks/0", 42)  # redeliveries still refused
    later = back.vector.learn_one(np.array([0.0, 1.0, 0.0, 0.0]), "order", from_epoch(T0))
    assert later.weight > want.weight
    assert len(raw) < 360


def test_a_campaign_tally_round_trips_and_closes_the_same() -> None:
    tally = a_campaign_tally()
    back = EXPERIMENT_CAMPAIGNS.decode(EXPERIMENT_CAMPAIGNS.encode(tally))
    assert back.to_state() == tally.to_state() and len(back.pending) == 6
    assert back.close(T0 + 240) == tally.close(T0 + 240) != []  # the waiting minute, estimated alike


@pytest.mark.parametrize("hostile", [{"skus": {"s": ["placebo", 1, 2, 3, 4, 5, 6, 7, 8]}},
                                     {"skus": {"s": ["control", "x", 2, 3, 4, 5, 6, 7, 8]}},
                                     {"pending": [["c1", 1, 2, "s", "treatment", 0, 1, 1]]}])  # fmt: skip
def test_a_campaign_tally_of_the_wrong_shape_is_refused(hostile: dict[str, Any]) -> None:
    body = a_campaign_tally().to_state() | hostile
    raw = MAGIC + bytes([1]) + msgpack.packb(["experiment-campaign", body], use_bin_type=True)
    with pytest.raises(StateError, match="wrong shape"):
        EXPERIMENT_CAMPAIGNS.decode(raw)


def test_a_sku_slot_of_version_1_reads_without_what_the_holdout_added() -> None:
    back = SKU_SLOTS.decode((GOLDEN / "sku-slot.v1.bin").read_bytes())
    assert (back.state.opening_stock, back.state.base_price, back.state.bucket_revenue) == (None, None, 0.0)
    assert back.state.units_sold == a_sku_slot().state.units_sold > 0
    back.state.apply({"on_hand": 12, "inbound": 0, "ts": "…"}, T0 + 3600)
    assert back.state.opening_stock == 12


@pytest.mark.parametrize(("version", "holdout"), [(1, (None, None)), (2, (30, 19.5))])
def test_an_older_sku_slot_restores_with_a_fresh_demand_model_and_decides(
    version: int, holdout: tuple[int | None, float | None]
) -> None:
    slot = SKU_SLOTS.decode((GOLDEN / f"sku-slot.v{version}.bin").read_bytes())
    state = slot.state
    assert state.units_sold == 12 and state.campaign is not None and state.campaign.campaign_id == "c1"
    assert (state.opening_stock, state.base_price) == holdout  # what the holdout added (v2) stays
    assert state.live_discount == state.discount and state.supplier_short_at is None
    assert state.demand.n_live == 0 and state.demand.level is None  # the old price response is dropped
    state.advance(T0 + 3600)  # and it goes on deciding
    assert SKU_SLOTS.decode(SKU_SLOTS.encode(slot)).state.to_state() == state.to_state()


@pytest.mark.parametrize(("kind", "version", "ids"), [
    ("user-slot", 1, ("clicks:e:e1",)), ("user-slot", 3, ("clicks:e:e1",)),
    ("sku-slot", 1, ("orders:e:e9", "orders:o:o9")), ("sku-slot", 3, ("orders:e:e9", "orders:o:o9")),
])  # fmt: skip
def test_ids_kept_as_strings_by_older_slots_still_catch_copies(kind: str, version: int, ids: tuple) -> None:
    codec, _ = SAMPLES[kind]
    seen = codec.decode((GOLDEN / f"{kind}.v{version}.bin").read_bytes()).seen
    assert seen.ids == {digest(i): seen.ids[digest(i)] for i in ids}  # every id, nothing else
    assert all(seen.duplicate((i,), seen.ids[digest(i)] + 30, window_s=60) for i in ids)
    assert not seen.duplicate(("orders:e:other",), seen.ids[digest(ids[0])], window_s=60)


@pytest.mark.parametrize(("values", "cast", "expected"), [
    ({"a": 1.5, "b": 2}, number, {"a": 1.5, "b": 2.0}), ({"a": 3}, integer, {"a": 3}), ({}, number, {}),
    ({"a": True}, number, "expected a number, got bool"),
    ({"a": 1.5}, integer, "expected an integer, got float"),
    ({1: 1.0}, number, "expected a string, got int"), ({"a": "1"}, number, "expected a number, got str"),
])  # fmt: skip
def test_a_map_is_checked_alike_by_its_types_at_once_and_entry_by_entry(
    values: dict[Any, Any], cast: Callable[[Any], Any], expected: dict[str, Any] | str
) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            str_map(values, cast)
    else:
        checked = str_map(values, cast)
        assert checked == expected and list(map(type, checked.values())) == list(map(type, expected.values()))
        assert checked is not values  # a map of its own


@pytest.mark.parametrize(("values", "expected"), [
    (["b", "a"], ["b", "a"]), ([], []), (["a", 1], "expected a string, got int"),
    ("ab", "expected a list of strings, got str"), ({"a": 1}, "expected a list of strings, got dict"),
])  # fmt: skip
def test_a_list_of_strings_is_checked_alike_at_once_and_entry_by_entry(values: Any, expected: Any) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            texts(values)
    else:
        assert texts(values) == expected


def a_clock_body(marks: Any) -> bytes:
    clock = PartitionClock(("orders/0", "stock/0"), 30.0, skus={"sku-1", "sku-2"}, position=7)
    body = {**clock_to_plain(clock), "marks": marks}
    return SKU_CLOCKS.encode(clock)[:3] + msgpack.packb(["sku-clock", body])


@pytest.mark.parametrize("marks", [
    {"orders/0": [T0, False], "stock/0": [T0 + 1.5, True]},  # as written
    {"orders/0": [int(T0), 0], "stock/0": [T0 + 1.5, 1]},  # other numbers: the same marks
])  # fmt: skip
def test_a_clocks_marks_read_as_times_and_idle_flags(marks: dict[str, Any]) -> None:
    clock = SKU_CLOCKS.decode(a_clock_body(marks))
    assert clock.marks == {"orders/0": SourceMark(T0, False), "stock/0": SourceMark(T0 + 1.5, True)}
    assert [type(mark.time) for mark in clock.marks.values()] == [float, float]
    assert clock.skus == {"sku-1", "sku-2"} and clock.position == 7


@pytest.mark.parametrize("marks", [
    {"orders/0": [T0]}, {"orders/0": "x"}, {"orders/0": ["x", False]}, {"orders/0": [T0, False, 1]},
    [[T0, False]],
])  # fmt: skip
def test_a_clocks_marks_of_the_wrong_shape_are_refused(marks: Any) -> None:
    with pytest.raises(StateError, match="wrong shape"):
        SKU_CLOCKS.decode(a_clock_body(marks))


def test_an_sku_states_counters_are_read_as_their_types() -> None:
    """Counters are checked by their exact type first; the others are converted or refused as before."""
    plain = a_sku_slot().state.to_state()
    back = SkuState.from_state({**plain, "revenue": 18, "on_hand": None})
    assert back.revenue == 18.0 and type(back.revenue) is float and back.on_hand is None
    assert back.to_state() == {**plain, "revenue": 18.0, "on_hand": None}
    for name, value in [("units_sold", 1.5), ("listed", 1), ("revenue", True), ("discount", None)]:
        with pytest.raises(ValueError, match=f"{name}: expected"):
            SkuState.from_state({**plain, name: value})


def test_a_user_slot_grows_by_16_bytes_per_recent_id() -> None:
    """A user active through the dedup window keeps hundreds of ids: each is a digest and a time."""
    slot = a_user_slot()
    before = len(USER_SLOTS.encode(slot))
    slot.seen.note([f"clicks:e:{n:08d}-5f3c-4b1e-9a57-c2d1e0f4a6b8" for n in range(300)], T0 + 100)
    assert before < len(USER_SLOTS.encode(slot)) <= before + 300 * 16 + 4  # a string each was 50 bytes
    back = USER_SLOTS.decode(USER_SLOTS.encode(slot))
    assert back.seen == slot.seen
    assert back.seen.duplicate(["clicks:e:00000299-5f3c-4b1e-9a57-c2d1e0f4a6b8"], T0, window_s=120)


@pytest.mark.parametrize("seen", [
    {"digests": b"\0" * 16, "times": b"\0" * 8}, {"digests": b"\0" * 7, "times": b""},
    {"digests": "abc", "times": b""}, {"e:1": 1.0},
])  # fmt: skip
def test_recent_ids_of_the_wrong_shape_are_refused(seen: dict[str, Any]) -> None:
    raw = MAGIC + bytes([USER_SLOTS.version]) + msgpack.packb(["user-slot", {**plain_user(), "seen": seen}])
    with pytest.raises(StateError, match="wrong shape"):
        USER_SLOTS.decode(raw)


def test_a_user_slot_of_version_1_reads_with_no_interactions_kept() -> None:
    back = USER_SLOTS.decode((GOLDEN / "user-slot.v1.bin").read_bytes())
    assert back.touched == [] and back.bought == [] and back.received == {"clicks/0": 41}
    assert back.taste == {}


def test_a_user_slot_of_version_2_reads_with_its_interactions_and_no_visits_per_category() -> None:
    back = USER_SLOTS.decode((GOLDEN / "user-slot.v2.bin").read_bytes())
    assert [t.what for t in back.touched] == ["sku-7", "usb-c hub", "sku-9"] and back.bought == ["sku-9"]
    assert back.taste == {}


class Exploit:
    """A pickle that would create a file when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.path}",)


def bad_values(tmp_path: Path) -> dict[str, bytes]:
    good = SKU_CLOCKS.encode(a_sku_clock())
    return {
        "pickle": pickle.dumps(Exploit(tmp_path / "pwned")),
        "truncated": good[:-5],
        "other kind": USER_SLOTS.encode(a_user_slot()),
        "future version": MAGIC + bytes([9]) + good[3:],
        "wrong shape": MAGIC + bytes([1]) + msgpack.packb(["sku-clock", {"expected": 3}]),
        "huge bytes field": MAGIC + bytes([1]) + msgpack.packb(["user-slot", {"mean": 10**12}]),
    }


@pytest.mark.parametrize("name", ["pickle", "truncated", "other kind", "future version", "wrong shape"])
def test_what_is_not_a_state_is_a_state_error(name: str, tmp_path: Path) -> None:
    codec = USER_SLOTS if name == "huge bytes field" else SKU_CLOCKS
    with pytest.raises(StateError):
        codec.decode(bad_values(tmp_path)[name])
    assert not (tmp_path / "pwned").exists()


def test_a_vector_field_that_is_not_bytes_is_refused_without_allocating() -> None:
    with pytest.raises(StateError, match="a float32 vector is bytes of a multiple of 4"):
        USER_SLOTS.decode(MAGIC + bytes([4]) + msgpack.packb(["user-slot", {**plain_user(), "mean": 10**12}]))


def plain_user() -> dict[str, Any]:
    return msgpack.unpackb(USER_SLOTS.encode(a_user_slot())[3:])[1]


def changelog_event(value: bytes | None, offset: int) -> Any:
    message = SimpleNamespace(
        key=b'"p0"', value=value, topic="ns.flashsale-sku-clocks-changelog", partition=0
    )
    message.offset, message.tp = offset, TP(message.topic, 0)
    return SimpleNamespace(key="p0", value=value, message=message)  # Faust has decoded the key


@pytest.mark.parametrize("store", ["rocksdb", "memory"])
def test_recovery_refuses_hostile_changelog_values_logs_where_and_keeps_the_last_good_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, store: str
) -> None:
    app = create_app(Settings(data_dir=tmp_path, table_store=store), web=False).app
    table = state_table(app, "sku-clocks", SKU_CLOCKS)
    good = SKU_CLOCKS.encode(a_sku_clock())
    refused = metrics.STATE_REFUSED.labels(table="sku-clocks")
    before = refused._value.get()
    hostile = [changelog_event(raw, 10 + i) for i, raw in enumerate(bad_values(tmp_path).values())]
    table.apply_changelog_batch([changelog_event(good, 9), *hostile])
    assert local_get(table, 0, "p0") == good  # the last good value stands
    assert not (tmp_path / "pwned").exists()  # nothing was executed
    assert refused._value.get() - before == len(hostile)
    lines = [
        r.getMessage() for r in caplog.records if "refused a sku-clocks changelog value" in r.getMessage()
    ]
    assert len(lines) == len(hostile)
    assert "ns.flashsale-sku-clocks-changelog[0]@10: not a flashsale state value" in lines[0]


if __name__ == "__main__":
    write_golden()
