"""Security basics: broker SASL/SSL and Postgres TLS come from settings and reach every client; no
secret appears in logs, errors or ``flashsale status``; every SQL statement is parameterised.
"""

from __future__ import annotations

import ast
import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import pytest
import sqlalchemy as sa

from infra.net import free_port
from streams.app import broker_credentials
from streams.runtime.admin import aiokafka_config, client_config, ensure_topics
from streams.settings import Settings
from streams.sink.agents import create_engine, write_rows
from streams.sink.tables import tables_for
from tests.chaos.driver import Fleet

pytestmark = pytest.mark.chaos
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def secrets() -> dict[str, str]:
    """Distinctive secret values, to look for in every output."""
    return {"db": f"dbpw-{uuid.uuid4().hex}", "sasl": f"saslpw-{uuid.uuid4().hex}"}


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (the test Postgres trusts loopback, so it is never checked)."""
    return sa.make_url(url).set(password=password).render_as_string(hide_password=False)


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


def test_kafka_sasl_ssl_settings_reach_faust_kafka_python_and_aiokafka(
    monkeypatch: pytest.MonkeyPatch, secrets: dict[str, str]
) -> None:
    cafile = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    for name, value in {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "shop", "KAFKA_SASL_PASSWORD": secrets["sasl"], "KAFKA_SSL_CAFILE": cafile,
    }.items():  # fmt: skip
        monkeypatch.setenv(f"FLASHSALE_{name}", value)
    settings = Settings()

    credentials = broker_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("shop", secrets["sasl"])
    assert str(credentials.mechanism.value) == "SCRAM-SHA-512" and credentials.ssl_context is not None
    config = client_config(settings)
    assert config["security_protocol"] == "SASL_SSL" and config["ssl_cafile"] == cafile
    assert (config["sasl_mechanism"], config["sasl_plain_password"]) == ("SCRAM-SHA-512", secrets["sasl"])
    assert isinstance(aiokafka_config(settings)["ssl_context"], ssl.SSLContext)
    tls_only = settings.model_copy(update={"kafka_security_protocol": "SSL"})
    assert isinstance(broker_credentials(tls_only), faust.SSLCredentials)
    assert not leaked(repr(settings) + settings.model_dump_json(), secrets)


def test_postgres_sslmode_reaches_the_sink_connection(postgres_url: str) -> None:
    """The test Postgres speaks no TLS: ``require`` must fail there, ``disable`` must connect."""
    for mode, connects in (("disable", True), ("require", False)):
        engine = create_engine(Settings(database_url=postgres_url, db_sslmode=mode))
        try:
            if connects:
                engine.connect().close()
            else:
                with pytest.raises(sa.exc.OperationalError, match="SSL"):
                    engine.connect()
        finally:
            engine.dispose()


def test_sslmode_in_the_database_url_is_not_weakened(postgres_url: str) -> None:
    """``?sslmode=require`` in FLASHSALE_DATABASE_URL (libpq's own way) must hold, not fall back."""
    engine = create_engine(Settings(database_url=f"{postgres_url}?sslmode=require"))
    try:
        with pytest.raises(sa.exc.OperationalError, match="SSL"):
            engine.connect()
    finally:
        engine.dispose()


def flashsale(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_migrate_honours_sslmode(postgres_url: str, namespace: str) -> None:
    """Every Postgres connection takes FLASHSALE_DB_SSLMODE, the migrations' too."""
    env = {
        "FLASHSALE_DATABASE_URL": postgres_url,
        "FLASHSALE_DB_SCHEMA": namespace,
        "FLASHSALE_DB_SSLMODE": "require",
    }
    done = flashsale("migrate", env=env)
    assert done.returncode != 0, f"migrated over a connection without TLS: {done.stdout}"
    assert "SSL" in done.stderr


def test_no_secret_in_status_or_command_errors(tmp_path: Path, secrets: dict[str, str]) -> None:
    closed = free_port()
    env = {
        "FLASHSALE_DATA_DIR": str(tmp_path),
        "FLASHSALE_DATABASE_URL": f"postgresql+psycopg2://shop:{secrets['db']}@127.0.0.1:{closed}/flashsale",
        "FLASHSALE_KAFKA_SASL_USERNAME": "shop",
        "FLASHSALE_KAFKA_SASL_PASSWORD": secrets["sasl"],
        "FLASHSALE_KAFKA_PORT": str(free_port()),
        "FLASHSALE_POSTGRES_PORT": str(closed),
    }
    for args in (("status",), ("status", "--json"), ("migrate",)):
        done = flashsale(*args, env=env)
        assert not leaked(done.stdout + done.stderr, secrets), (args, done.stdout, done.stderr)
    assert json.loads(flashsale("status", "--json", env=env).stdout)["postgres"]["running"] is False
    assert done.returncode != 0 and "flashsale: error:" in done.stderr  # migrate: Postgres is not there


def test_no_secret_in_worker_logs_or_dead_letters(
    settings: Settings, start_worker: Callable, tmp_path: Path, secrets: dict[str, str]
) -> None:
    """A worker whose Postgres is down (its URL holds a password) logs at DEBUG and retries: no secret."""
    from kafka import KafkaProducer

    closed = free_port()
    settings = settings.model_copy(
        update={
            "database_url": sa.make_url(
                with_password(settings.database_url.get_secret_value(), secrets["db"])
            )
            .set(port=closed)
            .render_as_string(hide_password=False),
            "kafka_sasl_username": "shop",
            "kafka_sasl_password": secrets["sasl"],
            "log_level": "DEBUG",
        }
    )
    assert secrets["db"] in settings.to_env()["FLASHSALE_DATABASE_URL"]
    ensure_topics(settings)
    decision = restock_row("d1", "s1", datetime.now(UTC).isoformat())
    producer = KafkaProducer(**client_config(settings))
    producer.send(settings.topic("restock"), key=b"s1", value=json.dumps(decision).encode())
    producer.send(settings.topic("orders"), key=b"u1", value=b"{not json")
    producer.flush()
    producer.close()
    fleet = Fleet(start_worker, settings, 1, tmp_path)
    try:
        deadline = time.monotonic() + 120  # both paths logged: the sink's retries and a dead letter
        while not logged_both(logs := fleet.logs()) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        fleet.kill_all()
    assert logged_both(logs), logs[-3000:]
    assert not leaked(logs, secrets), [line for line in logs.splitlines() if leaked(line, secrets)][:5]


def logged_both(logs: str) -> bool:
    """The sink retried Postgres twice and the orders agent dead-lettered its bad message."""
    return logs.count("postgres unavailable") >= 2 and "dead letter" in logs


def restock_row(event_id: str, sku: str, ts: str, reason: str = "test") -> dict[str, Any]:
    """A contract ``restock`` value."""
    return {
        "event_id": event_id, "sku": sku, "quantity": 3, "on_hand": 1, "inbound": 0, "forecast_units": 2.5,
        "horizon_minutes": 15, "service_level": 0.95, "reason": reason, "ts": ts,
    }  # fmt: skip


def sql_calls(tree: ast.AST) -> Iterator[ast.Call]:
    """Calls that take SQL text: ``execute``, ``exec_driver_sql``, ``executemany``, ``text``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in {"execute", "executemany", "exec_driver_sql", "text"}:
                yield node


def built_from_strings(node: ast.expr) -> bool:
    """Whether ``node`` builds SQL text by string formatting (f-string, %, +, str.format)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return isinstance(node.func.value, ast.Constant)  # psycopg2's sql.SQL(...).format(...) is safe
    return False


def test_every_sql_statement_is_parameterised() -> None:
    offenders = []
    for file in sorted(f for d in ("streams", "infra", "models") for f in (ROOT / d).rglob("*.py")):
        tree = ast.parse(file.read_text(), str(file))
        offenders += [
            f"{file.relative_to(ROOT)}:{call.lineno}: {ast.unparse(call)[:120]}"
            for call in sql_calls(tree)
            if built_from_strings(call.args[0])
        ]
    assert not offenders, "SQL built by string formatting:\n" + "\n".join(offenders)


def test_hostile_strings_are_stored_verbatim(postgres_url: str, db_schema: str) -> None:
    """Values reach Postgres as bound parameters: quotes and SQL in them are just text."""
    nasty = ["x'); DROP TABLE restock_events; --", 'q"uote', "back\\slash", "%s %(x)s {0}", "ünïcødé ✓"]
    rows = [
        {**restock_row(f"e{i}", s, "2026-01-01T00:00:00+00:00", reason=s), "source_topic": s}
        | {"source_partition": 0, "source_offset": i}
        for i, s in enumerate(nasty)
    ]
    engine = sa.create_engine(postgres_url)
    table = tables_for(db_schema).restock_events
    try:
        assert write_rows(engine, table, rows) == len(nasty)
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.select(table.c.event_id, table.c.sku)).all())
        assert stored == {f"e{i}": s for i, s in enumerate(nasty)}
    finally:
        engine.dispose()
