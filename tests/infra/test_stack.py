"""LocalStack.up / down / status and check_prerequisites, with stand-in servers (no JVM, no postgres)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from infra import migrations, pgbinaries, stack
from infra.errors import InfraError
from infra.kafka import KafkaServer
from infra.kafka_cluster import KafkaCluster
from infra.pgbinaries import Binaries
from infra.stack import LocalStack, check_prerequisites, recorded_brokers
from streams.settings import Settings


class FakeServer:
    """What LocalStack uses of KafkaServer / PostgresServer; ``fail`` makes ``start`` raise it."""

    def __init__(self, port: int, running: bool = False, fail: BaseException | None = None) -> None:
        self.host, self.port, self.running, self.fail = "127.0.0.1", port, running, fail
        self.url = f"postgresql+psycopg2://flashsale@127.0.0.1:{port}/flashsale"
        self.starts = self.stops = 0

    def is_running(self) -> bool:
        return self.running

    def check_ports(self) -> None:
        pass

    check_port = check_ports

    def binaries(self) -> Binaries:
        return Binaries(Path("/pg/bin"), "16.4")

    def start(self) -> None:
        self.starts += 1
        if self.fail:
            raise self.fail
        self.running = True

    def stop(self) -> None:
        self.stops += int(self.running)
        self.running = False

    def status(self) -> dict[str, object]:
        return {"running": self.running, "pid": 1 if self.running else None}


@pytest.fixture(autouse=True)
def prerequisites(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(stack, "find_java", lambda: "/jdk/bin/java")
    monkeypatch.setattr(stack, "ensure_kafka_jars", lambda progress: tmp_path / "jars")
    monkeypatch.setattr(migrations, "upgrade", lambda url, schema: None)


def make_stack(tmp_path: Path, kafka: FakeServer, postgres: FakeServer) -> LocalStack:
    settings = Settings(data_dir=tmp_path / "data", database_url=SecretStr("postgresql://u:s3cr3t@h:1/db"))
    return LocalStack(kafka=kafka, postgres=postgres, place=settings.stack_place())  # type: ignore[arg-type]


def test_up_twice_starts_each_server_once(tmp_path: Path) -> None:
    local = make_stack(tmp_path, FakeServer(1), FakeServer(2))
    lines: list[str] = []
    local.up(lines.append)
    local.up(lines.append)
    assert lines == ["starting Kafka on 127.0.0.1:1", "starting Postgres on 127.0.0.1:2"]
    assert local.kafka.is_running() and local.postgres.is_running()


def test_postgres_failing_stops_the_kafka_this_up_started(tmp_path: Path) -> None:
    kafka, postgres = FakeServer(1), FakeServer(2, fail=InfraError("Postgres failed to start: FATAL: x"))
    with pytest.raises(InfraError, match=r"^Postgres failed to start: FATAL: x; stopped Kafka again$"):
        make_stack(tmp_path, kafka, postgres).up()
    assert (kafka.running, kafka.stops) == (False, 1)


def test_a_kafka_that_ran_before_is_left_running(tmp_path: Path) -> None:
    kafka, postgres = FakeServer(1, running=True), FakeServer(2, fail=InfraError("Postgres port 2 is taken"))
    with pytest.raises(InfraError, match=r"^Postgres port 2 is taken$"):
        make_stack(tmp_path, kafka, postgres).up()
    assert kafka.running


def test_ctrl_c_while_starting_postgres_stops_kafka_too(tmp_path: Path) -> None:
    kafka, postgres = FakeServer(1), FakeServer(2, fail=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        make_stack(tmp_path, kafka, postgres).up()
    assert not kafka.running


def test_a_failed_migration_stops_both_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    def fail(url: str, schema: str) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(migrations, "upgrade", fail)
    local = make_stack(tmp_path, FakeServer(1), FakeServer(2))
    with pytest.raises(
        InfraError, match=r"^migrating schema public failed: .*; stopped Kafka and Postgres again$"
    ):
        local.up()
    assert not local.kafka.is_running() and not local.postgres.is_running()


def test_status_has_no_secret(tmp_path: Path) -> None:
    local = make_stack(tmp_path, FakeServer(1), FakeServer(2))
    local.up()
    info: dict[str, Any] = local.status()
    assert set(info) == {"kafka", "postgres", "data_dir"}
    assert "s3cr3t" not in repr(info)


def test_prerequisites_name_java_postgres_and_kafka(tmp_path: Path) -> None:
    lines = check_prerequisites(postgres=FakeServer(2))  # type: ignore[arg-type]
    assert [line.split()[0] for line in lines] == ["java", "postgres", "kafka"]
    assert "16.4 in /pg/bin" in lines[1]


def test_prerequisites_without_postgres_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pgbinaries, "candidate_bindirs", lambda: [tmp_path / "nowhere"])
    with pytest.raises(InfraError, match="PostgreSQL server binaries not found") as error:
        check_prerequisites()
    assert "\n" not in str(error.value)


def test_the_stack_takes_the_brokers_up_last_started(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_port=19092, kafka_controller_port=19093)
    assert recorded_brokers(tmp_path) == 1
    assert isinstance(LocalStack.at(settings.stack_place()).kafka, KafkaServer)
    (tmp_path / stack.BROKERS_FILE).write_text("3\n")
    kafka = LocalStack.at(settings.stack_place()).kafka
    assert isinstance(kafka, KafkaCluster) and kafka.bootstrap.endswith(":19096")
    assert isinstance(LocalStack.at(settings.stack_place(), brokers=1).kafka, KafkaServer)


def test_up_with_other_brokers_than_the_running_ones_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    (tmp_path / stack.BROKERS_FILE).write_text("3\n")
    monkeypatch.setattr(stack, "runs", lambda kafka: isinstance(kafka, KafkaCluster))
    with pytest.raises(InfraError, match=r"runs with 3 broker\(s\), not 1: run flashsale down first$"):
        LocalStack.at(settings.stack_place(), brokers=1).up()


def test_workers_get_every_node_and_the_replication(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_port=19092, kafka_controller_port=19093)
    assert LocalStack.at(settings.stack_place(), brokers=3).kafka_settings() == {
        "broker_url": "kafka://127.0.0.1:19092,kafka://127.0.0.1:19094,kafka://127.0.0.1:19096",
        "topic_replication_factor": 3,
    }
    single = LocalStack.at(settings.stack_place(), brokers=1).kafka_settings()
    assert single == {"broker_url": "kafka://127.0.0.1:19092", "topic_replication_factor": 1}
