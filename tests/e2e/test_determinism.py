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
TOPICS = {"restock": "restock", "discount": "discount-adjustments"}  # decision kind → topic


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
    n = {kind: len(expected[kind]) for kind in TOPICS}
    readers = {kind: read_topic(settings, topic) for kind, topic in TOPICS.items()}

    first_worker = start_worker(settings)
    for kind, reader in readers.items():
        run_decisions(reader, n[kind], {}, e2e)
    first_rows = {kind: decision_rows(db_schema, kind, n[kind]) for kind in TOPICS}
    first_worker.stop()
    first = {kind: e2e.decisions_of(reader.to_end()) for kind, reader in readers.items()}
    first_ends = {kind: ends(reader.records) for kind, reader in readers.items()}

    rerun = settings.model_copy(
        update={"app_id": "flashsale-rerun", "db_schema": rerun_schema, "web_port": e2e.free_port()}
    )
    start_worker(rerun)
    second = {kind: run_decisions(reader, n[kind], first_ends[kind], e2e) for kind, reader in readers.items()}
    # The rerun's sink reads the same decision topics (run 1's records too): equal ids add no rows.
    second_rows = {kind: decision_rows(rerun_schema, kind, n[kind]) for kind in TOPICS}

    assert {kind: len(decisions) for kind, decisions in first.items()} == n
    assert second == first  # same ids, same values
    assert {kind: e2e.row_decisions(rows) for kind, rows in first_rows.items()} == first
    assert {kind: e2e.row_decisions(rows) for kind, rows in second_rows.items()} == first
