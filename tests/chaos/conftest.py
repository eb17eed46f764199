"""Chaos fixtures: the variant's sizes, the seeded sale, a stack of our own to break, a report.

Crash and hostile-input tests run on the session's Kafka and Postgres. Outage tests stop and restart
servers, so they get a Kafka and a Postgres of their own (module-scoped, free ports, a temporary dir);
replication tests get a 3-node Kafka of their own (``kafka_cluster``) and the session's Postgres.
``FLASHSALE_CHAOS_LONG=1`` runs the long variant; ``FLASHSALE_CHAOS_REPORT=path.json`` writes each
test's figures there (docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from infra.kafka_cluster import REPLICAS, KafkaCluster
from infra.net import free_port
from streams.settings import Settings
from tests.chaos.driver import OwnStack
from tests.chaos.workload import ChaosParams, Sale, build_sale, sale_start


@pytest.fixture(scope="session")
def chaos() -> ChaosParams:
    """Sizes of this run: fast (CI) unless FLASHSALE_CHAOS_LONG=1."""
    return ChaosParams.from_env()


@pytest.fixture(scope="session")
def sale(chaos: ChaosParams) -> Sale:
    """The seeded sale every chaos test replays (one start time for the whole session)."""
    return build_sale(chaos, sale_start())


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    """An engine on the test's Postgres."""
    engine = sa.create_engine(settings.database_url.get_secret_value(), pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def own_stack(server_dir: Callable[[str], Path]) -> Iterator[OwnStack]:
    """A private local Kafka and Postgres on free ports (always infra/, never containers: we kill them)."""
    from infra.kafka import KafkaServer
    from infra.postgres import PostgresServer

    root = server_dir("own-stack")
    stack = OwnStack(
        KafkaServer(root, port=free_port(), controller_port=free_port()),
        PostgresServer(root, port=free_port()),
    )
    stack.kafka.start()
    stack.postgres.start()
    try:
        yield stack
    finally:
        stack.kafka.stop()
        stack.postgres.stop()


def chaos_settings(
    bootstrap: str, database_url: str, namespace: str, tmp_path: Path, **extra: Any
) -> Settings:
    """Settings of a test's run on brokers ``bootstrap`` (``host:port``, comma separated)."""
    return Settings(
        broker_url=",".join(f"kafka://{host}" for host in bootstrap.split(",")),
        database_url=database_url,
        topic_prefix=namespace,
        db_schema=namespace,
        data_dir=tmp_path / "data",
        web_port=free_port(),
        stream_batch_wait_ms=50,
        **extra,
    )


@pytest.fixture
def own_settings(own_stack: OwnStack, namespace: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings on the private stack, with a migrated schema of this test's own."""
    from infra import migrations

    url = own_stack.postgres.url
    migrations.upgrade(url, namespace)
    yield chaos_settings(own_stack.kafka.bootstrap, url, namespace, tmp_path)
    if own_stack.postgres.is_running():
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(namespace, cascade=True, if_exists=True))
        engine.dispose()


@pytest.fixture
def own_engine(own_settings: Settings) -> Iterator[sa.Engine]:
    engine = sa.create_engine(own_settings.database_url.get_secret_value(), pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def kafka_cluster(server_dir: Callable[[str], Path]) -> Iterator[KafkaCluster]:
    """A private 3-node Kafka (infra/, never containers: a node gets SIGKILLed) on free ports."""
    ports: list[int] = []
    while len(ports) < 6:  # six distinct ones: free_port may name a port twice, as nobody binds it yet
        if (port := free_port()) not in ports:
            ports.append(port)
    cluster = KafkaCluster(server_dir("kafka-cluster"), list(zip(ports[::2], ports[1::2], strict=True)))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_settings(
    kafka_cluster: KafkaCluster, postgres_url: str, db_schema: str, tmp_path: Path
) -> Settings:
    """Settings on the 3-node Kafka, topics created with its replication, and the session's Postgres."""
    return chaos_settings(
        kafka_cluster.bootstrap, postgres_url, db_schema, tmp_path, topic_replication_factor=REPLICAS
    )


@pytest.fixture
def cluster_engine(cluster_settings: Settings) -> Iterator[sa.Engine]:
    engine = sa.create_engine(cluster_settings.database_url.get_secret_value(), pool_pre_ping=True)
    yield engine
    engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long variant outlasts the suite's 600 s per-test limit: give chaos tests an hour."""
    if ChaosParams.from_env().name == "long":
        for item in items:
            if item.get_closest_marker("chaos"):
                item.add_marker(pytest.mark.timeout(3600))


_FIGURES: dict[str, Any] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest, chaos: ChaosParams) -> Callable[..., None]:
    """``figures(key=value, …)``: record this test's figures (printed, and written to the report)."""

    def record(**values: Any) -> None:
        entry = _FIGURES.setdefault(request.node.name, {"variant": chaos.name})
        entry.update(values)
        print(f"{request.node.name}: {json.dumps(values, default=str)}")

    return record


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("FLASHSALE_CHAOS_REPORT")
    if target and _FIGURES:
        Path(target).write_text(json.dumps(_FIGURES, indent=2, default=str) + "\n")
