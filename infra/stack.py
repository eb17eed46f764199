"""The local stack behind ``flashsale up / status / down``: Kafka + Postgres + migrations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra import migrations
from infra.java import find_java
from infra.kafka import KAFKA_VERSION, KafkaServer, ensure_kafka_jars
from infra.postgres import PostgresServer
from streams.settings import Settings

Progress = Callable[[str], None]


def check_prerequisites(progress: Progress = lambda _: None) -> list[str]:
    """Fetch the Kafka jars if missing and find Java; one line per part, or InfraError."""
    jars = ensure_kafka_jars(progress=progress)
    return [f"java      {find_java()}", f"kafka     {KAFKA_VERSION} jars in {jars}"]


@dataclass
class LocalStack:
    """A single-node Kafka and a Postgres in one data dir, on the ports from settings."""

    kafka: KafkaServer
    postgres: PostgresServer
    settings: Settings

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStack:
        root = settings.data_dir
        return cls(
            kafka=KafkaServer(root, port=settings.kafka_port, controller_port=settings.kafka_controller_port),
            postgres=PostgresServer(root, port=settings.postgres_port),
            settings=settings,
        )

    def up(self, progress: Progress = lambda _: None) -> None:
        """Fetch what is missing, start both servers and migrate; running parts are left alone."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        check_prerequisites(progress)
        progress(f"starting Kafka on {self.kafka.bootstrap}")
        self.kafka.start()
        progress(f"starting Postgres on port {self.settings.postgres_port}")
        self.postgres.start()
        migrations.upgrade(self.postgres.url, self.settings.db_schema)

    def down(self) -> None:
        """Stop both servers (idempotent); data stays."""
        self.kafka.stop()
        self.postgres.stop()

    def status(self) -> dict[str, Any]:
        """URLs, PIDs and the data dir; never a secret."""
        return {
            "kafka": self.kafka.status(),
            "postgres": self.postgres.status(),
            "data_dir": str(self.settings.data_dir),
        }
