"""The local stack behind ``flashsale setup / up / status / down``: Kafka + Postgres + migrations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import InfraError
from infra.java import find_java
from infra.kafka import KAFKA_VERSION, KafkaServer, ensure_kafka_jars
from infra.kafka_cluster import REPLICAS, KafkaCluster
from infra.pgbinaries import find_binaries
from infra.postgres import PostgresServer

Progress = Callable[[str], None]
Kafka = KafkaServer | KafkaCluster
BROKERS_FILE = "kafka-brokers"  # in the data dir: how many brokers ``flashsale up`` last started


def recorded_brokers(data_dir: Path) -> int:
    """The brokers ``flashsale up`` last started in ``data_dir`` (1 if it never ran there)."""
    try:
        return int((data_dir / BROKERS_FILE).read_text().strip())
    except (OSError, ValueError):
        return 1


@dataclass(frozen=True)
class Place:
    """Where a local stack lives: its data dir, its ports and the schema it migrates."""

    data_dir: Path
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    postgres_port: int = 5432
    db_schema: str = "public"


def kafka_for(place: Place, brokers: int) -> Kafka:
    """The single node (``brokers`` 1) or the cluster of ``brokers`` nodes in ``place``'s data dir.

    A cluster's node ``i`` listens on the place's ports plus ``2 i`` (9092/9093, 9094/9095, …).
    """
    if brokers == 1:
        return KafkaServer(place.data_dir, port=place.kafka_port, controller_port=place.kafka_controller_port)
    ports = KafkaCluster.ports_from(place.kafka_port, place.kafka_controller_port, brokers)
    return KafkaCluster(place.data_dir, ports)


def runs(kafka: Kafka) -> bool:
    """Whether any node of ``kafka`` runs."""
    return bool(kafka.running_nodes()) if isinstance(kafka, KafkaCluster) else kafka.is_running()


def check_prerequisites(
    progress: Progress = lambda _: None, postgres: PostgresServer | None = None
) -> list[str]:
    """Find Java and the Postgres server binaries, fetch the Kafka jars if missing; one line per part.

    Raises InfraError (one line) for the first part missing; the cheap checks come before the download.
    ``postgres``: the server whose binaries to look up (an existing cluster needs its own major version).
    """
    java = find_java()
    binaries = postgres.binaries() if postgres else find_binaries()
    jars = ensure_kafka_jars(progress=progress)
    return [
        f"java      {java}",
        f"postgres  {binaries.version} in {binaries.bindir}",
        f"kafka     {KAFKA_VERSION} jars in {jars}",
    ]


@dataclass
class LocalStack:
    """A Kafka (one node, or a replicated cluster) and a Postgres in one data dir, on the place's ports."""

    kafka: Kafka
    postgres: PostgresServer
    place: Place

    @classmethod
    def at(cls, place: Place, brokers: int | None = None) -> LocalStack:
        """``brokers``: Kafka nodes; None: as ``flashsale up`` last started them in this data dir."""
        return cls(
            kafka=kafka_for(place, brokers or recorded_brokers(place.data_dir)),
            postgres=PostgresServer(place.data_dir, port=place.postgres_port),
            place=place,
        )

    @property
    def brokers(self) -> int:
        return len(self.kafka.nodes) if isinstance(self.kafka, KafkaCluster) else 1

    def kafka_settings(self) -> dict[str, Any]:
        """The settings a worker on this Kafka needs: every node's URL, and the topics' replication."""
        urls = ",".join(f"kafka://{host}" for host in self.kafka.bootstrap.split(","))
        return {"broker_url": urls, "topic_replication_factor": REPLICAS if self.brokers > 1 else 1}

    def up(self, progress: Progress = lambda _: None) -> None:
        """Start what is not running and migrate (idempotent).

        All or nothing: if any step fails, the servers this call started are stopped again and the
        InfraError says what failed and what was stopped.
        """
        self._check_layout()
        kafka_was_up, postgres_was_up = self.kafka.is_running(), self.postgres.is_running()
        if not kafka_was_up:
            self.kafka.check_ports()  # taken ports fail here, before anything starts
        if not postgres_was_up:
            self.postgres.check_port()
        check_prerequisites(progress, self.postgres)
        self.place.data_dir.mkdir(parents=True, exist_ok=True)
        kafka = "Kafka" if self.brokers == 1 else f"Kafka ({self.brokers} brokers)"
        servers = (
            (kafka, self.kafka, kafka_was_up, self._record_brokers),
            ("Postgres", self.postgres, postgres_was_up, lambda: None),
        )
        started: list[str] = []  # what this call started, to name on failure
        try:
            for name, server, was_up, started_hook in servers:
                if not was_up:
                    progress(f"starting {name} on {server.host}:{server.port}")
                server.start()  # a running one: checks its ports, waits until it serves
                started_hook()
                if not was_up:
                    started.append(name)
            self._migrate()
        except BaseException as exc:  # Ctrl-C too: leave nothing half up
            self._stop(kafka=not kafka_was_up, postgres=not postgres_was_up)
            if isinstance(exc, InfraError) and started:
                raise InfraError(f"{exc}; stopped {' and '.join(started)} again") from exc
            raise

    def down(self) -> None:
        """Stop both servers (idempotent); data stays."""
        self._stop(kafka=True, postgres=True)

    def status(self) -> dict[str, Any]:
        """URLs, PIDs, logs and the data dir of both servers.

        Never a secret: built from the servers alone (their URLs carry no password), not from a
        database URL or any other secret setting.
        """
        return {
            "kafka": self.kafka.status(),
            "postgres": self.postgres.status(),
            "data_dir": str(self.place.data_dir),
        }

    def _check_layout(self) -> None:
        """InfraError if this data dir's Kafka runs with another number of brokers than asked for."""
        recorded = recorded_brokers(self.place.data_dir)
        if recorded != self.brokers and runs(kafka_for(self.place, recorded)):
            raise InfraError(
                f"Kafka of {self.place.data_dir} runs with {recorded} broker(s), not {self.brokers}: "
                "run flashsale down first"
            )

    def _record_brokers(self) -> None:
        (self.place.data_dir / BROKERS_FILE).write_text(f"{self.brokers}\n")

    def _migrate(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from infra import migrations  # lazy: alembic takes a while to import, and status needs none

        schema = self.place.db_schema
        try:
            migrations.upgrade(self.postgres.url, schema)
        except SQLAlchemyError as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InfraError(f"migrating schema {schema} failed: {reason}") from exc

    def _stop(self, kafka: bool, postgres: bool) -> None:
        if kafka:
            self.kafka.stop()
        if postgres:
            self.postgres.stop()
