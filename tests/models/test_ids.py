from datetime import UTC, datetime, timedelta, timezone

from models.ids import bucket_start, decision_id

T = datetime(2024, 11, 11, 8, 7, 30, tzinfo=UTC)


def test_decision_id_is_deterministic_and_specific() -> None:
    b = bucket_start(T, 1)
    assert decision_id("restock", "sku-1", b) == decision_id("restock", "sku-1", b)
    others = {
        decision_id("discount", "sku-1", b),
        decision_id("restock", "sku-2", b),
        decision_id("restock", "sku-1", b + timedelta(minutes=1)),
    }
    assert decision_id("restock", "sku-1", b) not in others and len(others) == 3


def test_decision_id_ignores_the_time_zone_of_the_same_instant() -> None:
    shanghai = T.astimezone(timezone(timedelta(hours=8)))
    assert decision_id("restock", "s", shanghai) == decision_id("restock", "s", T)


def test_bucket_start_floors_and_treats_naive_as_utc() -> None:
    assert bucket_start(T, 5) == datetime(2024, 11, 11, 8, 5, tzinfo=UTC)
    assert bucket_start(T.replace(tzinfo=None), 5) == bucket_start(T, 5)
    edge = datetime(2024, 11, 11, 8, 10, tzinfo=UTC)
    assert bucket_start(edge, 5) == edge
    assert bucket_start(edge - timedelta(microseconds=1), 5) == datetime(2024, 11, 11, 8, 5, tzinfo=UTC)
