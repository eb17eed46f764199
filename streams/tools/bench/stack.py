"""The Kafka and Postgres a bench runs on: the ones settings point at when they answer, else temporary ones.

Temporary servers get free ports and a scratch data dir, and are stopped and deleted afterwards, so a
bench never touches ``flashsale up``'s data. A bench namespace is deleted afterwards on a reused stack.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from kafka import KafkaAdminClient
from pydantic import SecretStr

from infra import migrations
from infra.net import free_port
from streams.runtime.admin import bootstrap_servers, client_config, ensure_topics
from streams.settings import Settings

Say = Callable[[str], None]


def kafka_answers(settings: Settings) -> bool:
    """Whether the (first) broker of ``settings`` serves metadata."""
    from infra.kafka import answers_metadata

    return settings.kafka_security_protocol == "PLAINTEXT" and answers_metadata(
        bootstrap_servers(settings.broker_url)[0]
    )


def postgres_answers(settings: Settings) -> bool:
    """Whether the decision store of ``settings`` takes a connection within 3 s."""
    engine = sa.create_engine(
        settings.database_url.get_secret_value(), poolclass=sa.NullPool, connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect():
            return True
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


@contextmanager
def bench_stack(settings: Settings, say: Say) -> Iterator[Settings]:
    """Settings that point at an answering Kafka and Postgres (temporary ones started when needed)."""
    from infra.kafka import KafkaServer
    from infra.postgres import PostgresServer

    scratch = Path(tempfile.mkdtemp(prefix="flashsale-bench-"))
    update: dict[str, object] = {"data_dir": scratch / "data"}
    started: list[KafkaServer | PostgresServer] = []
    try:
        if kafka_answers(settings):
            say(f"using the running Kafka at {settings.broker_url}")
        else:
            kafka = KafkaServer(scratch, port=free_port(), controller_port=free_port())
            say(f"starting a temporary Kafka on {kafka.bootstrap}")
            kafka.start()
            started.append(kafka)
            update["broker_url"] = f"kafka://{kafka.bootstrap}"
        if postgres_answers(settings):
            say("using the running Postgres of FLASHSALE_DATABASE_URL")
        else:
            postgres = PostgresServer(scratch, port=free_port())
            say(f"starting a temporary Postgres on port {postgres.port}")
            postgres.start()
            started.append(postgres)
            update["database_url"] = SecretStr(postgres.url)
        yield settings.model_copy(update=update)
    finally:
        for server in reversed(started):
            say(f"stopping the temporary {type(server).__name__}")
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def new_namespace(settings: Settings, stem: str) -> Settings:
    """A fresh topic prefix and schema (``<stem>_<hex>``) with its topics created and schema migrated."""
    ns = f"{stem}_{uuid.uuid4().hex[:8]}"
    s = settings.model_copy(update={"topic_prefix": ns, "db_schema": ns, "web_port": free_port()})
    ensure_topics(s)
    migrations.upgrade(s.database_url.get_secret_value(), ns)
    return s


def drop_namespace(settings: Settings) -> None:
    """Delete a bench namespace's topics (changelogs included) and schema; best effort, never fails."""
    ns = settings.topic_prefix
    if not ns.startswith("bench"):
        raise ValueError(f"refusing to drop {ns!r}: not a bench namespace")
    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(**client_config(settings), client_id="flashsale-bench")
        try:
            admin.delete_topics(sorted(t for t in admin.list_topics() if ns in t))
        finally:
            admin.close()
    with contextlib.suppress(Exception):
        engine = sa.create_engine(settings.database_url.get_secret_value(), poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(ns, cascade=True, if_exists=True))
        engine.dispose()
