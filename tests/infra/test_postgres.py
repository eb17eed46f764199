"""The local PostgreSQL launcher against the real server binaries."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from infra import pgbinaries
from infra.errors import InfraError
from infra.net import free_port
from infra.postgres import PostgresServer

pytestmark = pytest.mark.integration


def _query(server: PostgresServer) -> str:
    engine = sa.create_engine(server.url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT current_database()")).scalar_one())


@pytest.fixture(scope="module")
def server(server_dir: Callable[[str], Path]) -> Iterator[PostgresServer]:
    pg = PostgresServer(server_dir("pg"), port=free_port())
    pg.start()
    yield pg
    pg.stop()


def test_start_again_is_a_no_op(server: PostgresServer) -> None:
    pid = server.status()["pid"]
    server.start()
    assert server.status()["pid"] == pid


def test_server_outlives_the_caller(server: PostgresServer) -> None:
    pid = server.pid()
    assert pid is not None
    assert os.getsid(pid) != os.getsid(0)  # its own session: the CLI's exit or Ctrl-C does not reach it


def test_status_reports_the_server_and_no_password(server: PostgresServer) -> None:
    status = server.status()
    assert set(status) == {"running", "pid", "url", "data_dir", "log", "version"}
    assert status["running"] is True
    assert status["url"] == server.url
    assert "password" not in repr(status).lower()
    assert Path(str(status["log"])).exists()


def test_a_query_works(server: PostgresServer) -> None:
    assert _query(server) == "flashsale"


def test_stop_twice_then_start_again(server: PostgresServer) -> None:
    server.stop()
    server.stop()
    assert not server.is_running()
    server.start()
    assert _query(server) == "flashsale"


def test_kill_then_start_recovers(server: PostgresServer) -> None:
    server.kill()
    assert not server.is_running()
    server.start()
    assert _query(server) == "flashsale"


def test_port_taken_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(InfraError, match=f"Postgres port {port} is already in use") as error:
            PostgresServer(tmp_path, port=port).start()
    assert "\n" not in str(error.value)
    assert not (tmp_path / "postgres").exists()  # refused before touching the disk


def test_no_binaries_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgbinaries, "candidate_bindirs", lambda: [tmp_path / "nowhere"])
    with pytest.raises(InfraError, match="binaries not found") as error:
        PostgresServer(tmp_path, port=free_port()).start()
    assert "\n" not in str(error.value)


def test_a_failing_server_is_a_one_line_error_with_its_log(server_dir: Callable[[str], Path]) -> None:
    pg = PostgresServer(server_dir("failing"), port=free_port())
    pg.start()
    pg.stop()
    with (pg.pgdata / "postgresql.auto.conf").open("a") as conf:
        conf.write("shared_buffers = 'plenty'\n")
    with pytest.raises(InfraError, match=r"Postgres failed to start: .*FATAL") as error:
        pg.start(timeout=20)
    assert "\n" not in str(error.value)
    assert not pg.is_running()
