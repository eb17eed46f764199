"""The same input processed twice, under a second app id (a new consumer group that reads the same
input topics from the start), gives the same decision ids and values, on the topics and in Postgres.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from streams.settings import Settings

pytestmark = pytest.mark.e2e


@pytest.fixture
def rerun_schema(postgres_url: str, namespace: str) -> Iterator[str]:
    """A second migrated schema, for the second run's Postgres rows."""
    from infra import migrations

    schema = f"{namespace}_rerun"
    migrations.upgrade(postgres_url, schema)
    yield schema
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def ends(records: list[Any]) -> dict[int, int]:
    """Offset after the last record, per partition."""
    return {r.partition: r.offset + 1 for r in sorted(records, key=lambda r: r.offset)}


def run_decisions(reader: Any, n: int, since: dict[int, int], e2e: Any) -> dict[str, dict[str, Any]]:
    """The decisions of a run: records at or after ``since`` (offset per partition), once ``n`` are there."""

    def of_run(records: list[Any]) -> dict[str, dict[str, Any]]:
        return e2e.decisions_of([r for r in records if r.offset >= since.get(r.partition, 0)])

    return of_run(reader.until(lambda records: len(of_run(records)) >= n))


def test_same_input_twice_gives_the_same_decisions(
    settings: Settings,
    db_schema: str,
    rerun_schema: str,
    sale: Any,
    publish: Callable,
    start_worker: Callable,
    read_topic: Callable,
    decision_rows: Callable,
    e2e: Any,
) -> None:
    publish(settings, sale.messages)
    expected = e2e.replay_decisions(sale.messages, settings)
    n_restock, n_discount = len(expected["restock"]), len(expected["discount"])
    restocks, discounts = read_topic(settings, "restock"), read_topic(settings, "discount-adjustments")

    first_worker = start_worker(settings)
    run_decisions(restocks, n_restock, {}, e2e), run_decisions(discounts, n_discount, {}, e2e)
    first_rows = [
        decision_rows(db_schema, "restock", n_restock),
        decision_rows(db_schema, "discount", n_discount),
    ]
    first_worker.stop()
    first = [e2e.decisions_of(restocks.to_end()), e2e.decisions_of(discounts.to_end())]
    restock_end, discount_end = ends(restocks.records), ends(discounts.records)

    rerun = settings.model_copy(
        update={"app_id": "flashsale-rerun", "db_schema": rerun_schema, "web_port": e2e.free_port()}
    )
    start_worker(rerun)
    second = [
        run_decisions(restocks, n_restock, restock_end, e2e),
        run_decisions(discounts, n_discount, discount_end, e2e),
    ]
    second_rows = [
        decision_rows(rerun_schema, "restock", n_restock),
        decision_rows(rerun_schema, "discount", n_discount),
    ]

    assert [len(d) for d in first] == [n_restock, n_discount]
    assert second == first  # same ids, same values
    assert [e2e.row_decisions(rows) for rows in first_rows] == first
    assert [e2e.row_decisions(rows) for rows in second_rows] == first
