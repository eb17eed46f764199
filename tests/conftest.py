"""Fixtures: a real Kafka and Postgres for the session, a fresh namespace and schema per test.

Docker engine answering → testcontainers (official images); otherwise the local stack from infra/
on free ports in a temporary data dir. Integration tests never skip for want of Docker.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from infra.net import free_port
from streams.settings import Settings
from streams.tools.process import READY, Child

ROOT = Path(__file__).resolve().parent.parent


def docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a real Apache Kafka broker."""
    from infra.kafka import KAFKA_VERSION, KafkaServer

    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(f"apache/kafka:{KAFKA_VERSION}") as container:
            yield container.get_bootstrap_server()
        return
    server = KafkaServer(tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port())
    server.start()
    try:
        yield server.bootstrap
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server_dir() -> Iterator[Callable[[str], Path]]:
    """``server_dir(name)``: a fresh folder for a Postgres server's data, outside pytest's own.

    As root the server runs as the ``postgres`` user, which must search every folder above its data.
    Each pytest session that starts on the machine resets ``/tmp/pytest-of-root`` to mode 0700, which
    would cut a server running below it off its files (PANIC: could not open pg_control).
    """
    root = Path(tempfile.mkdtemp(prefix="flashsale-tests-"))
    yield lambda name: Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(server_dir: Callable[[str], Path]) -> Iterator[str]:
    """SQLAlchemy URL of a real PostgreSQL database."""
    from infra.postgres import PostgresServer

    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver="psycopg2") as container:
            yield container.get_connection_url()
        return
    server = PostgresServer(server_dir("postgres"), port=free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def namespace() -> str:
    """A fresh topic prefix / schema name, so tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def db_schema(postgres_url: str, namespace: str) -> Iterator[str]:
    """A migrated, empty schema for this test, dropped afterwards."""
    from infra import migrations

    migrations.upgrade(postgres_url, namespace)
    yield namespace
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE'))
    engine.dispose()


@pytest.fixture
def settings(kafka_bootstrap: str, postgres_url: str, namespace: str, tmp_path: Path) -> Settings:
    """Settings pointing at the session's Kafka and Postgres under this test's namespace."""
    return Settings(
        broker_url=f"kafka://{kafka_bootstrap}",
        database_url=postgres_url,
        topic_prefix=namespace,
        db_schema=namespace,
        data_dir=tmp_path / "data",
        web_port=free_port(),
        stream_batch_wait_ms=50,
        topic_partitions=4,  # the suite checks behaviour; fewer partitions keep a test's topics quick to make
    )


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[Settings], Child]]:
    """Start real worker processes, each ready when returned; all are stopped when the test ends."""
    workers: list[Child] = []

    def start(settings: Settings) -> Child:
        worker = Child(settings, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        worker.wait_for(READY, timeout_s=90)
        return worker

    yield start
    for worker in workers:
        worker.stop()


REAL_STACK_MARKERS = {"integration", "e2e", "replay", "chaos", "browser"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """In CI a skipped real-stack test is a failure: they must really run. An expected failure (xfail, a
    known bug named in its reason) did run, and is reported as such."""
    outcome = yield
    report = outcome.get_result()
    skipped = report.skipped and not hasattr(report, "wasxfail")
    if os.environ.get("CI") and skipped and REAL_STACK_MARKERS & {m.name for m in item.iter_markers()}:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped in CI, but real-stack tests must run"


@pytest.fixture
def produce(kafka_bootstrap: str) -> Iterator[Callable[..., None]]:
    """Send ``(key, value, timestamp_s)`` triples to a topic and wait until the broker has them."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)

    def send(topic: str, messages: list[tuple[bytes | None, bytes | None, float]]) -> None:
        for key, value, ts in messages:
            producer.send(topic, key=key, value=value, timestamp_ms=int(ts * 1000))
        producer.flush()

    yield send
    producer.close()


@pytest.fixture
def consume(kafka_bootstrap: str) -> Callable[..., list]:
    """Read a topic from the start until ``n`` records (those ``where`` accepts) arrived, or ``timeout``."""
    from kafka import KafkaConsumer

    def read(topic: str, n: int, timeout: float = 60, where: Callable[[Any], bool] = bool) -> list:
        consumer = KafkaConsumer(
            topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
        )
        records: list = []
        deadline = time.monotonic() + timeout
        try:
            while len(records) < n and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=500).values():
                    records.extend(r for r in batch if where(r))
        finally:
            consumer.close()
        return records

    return read
