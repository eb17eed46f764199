"""The ``flashsale`` command as a user runs it: a subprocess, real servers, one line per failure."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.net import free_port, port_in_use

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t"
ERROR = "flashsale: error: "


@dataclass
class Cli:
    """``flashsale`` on its own data dir and free ports, its database URL carrying a password."""

    data_dir: Path
    env: dict[str, str]

    @classmethod
    def on(cls, data_dir: Path) -> Cli:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("FLASHSALE_")}
        if "FLASHSALE_CACHE_DIR" in os.environ:  # where the Kafka jars are: not a setting of the stack
            inherited["FLASHSALE_CACHE_DIR"] = os.environ["FLASHSALE_CACHE_DIR"]
        kafka, controller, postgres = free_port(), free_port(), free_port()
        return cls(
            data_dir,
            inherited
            | {
                "FLASHSALE_DATA_DIR": str(data_dir),
                "FLASHSALE_KAFKA_PORT": str(kafka),
                "FLASHSALE_KAFKA_CONTROLLER_PORT": str(controller),
                "FLASHSALE_POSTGRES_PORT": str(postgres),
                "FLASHSALE_BROKER_URL": f"kafka://127.0.0.1:{kafka}",
                "FLASHSALE_DATABASE_URL": f"postgresql+psycopg2://flashsale:{SECRET}@127.0.0.1:{postgres}/flashsale",
            },
        )

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``flashsale *args`` (``env`` overrides settings); its password never shows."""
        done = subprocess.run(
            [sys.executable, "-m", "streams", *args],
            cwd=ROOT,
            env=self.env | env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert SECRET not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        return done

    def stop_servers(self) -> None:
        """Whatever ``down`` left running (it should leave nothing), stopped without the CLI."""
        from infra.kafka import KafkaServer
        from infra.kafka_cluster import KafkaCluster
        from infra.postgres import PostgresServer

        KafkaServer(self.data_dir).stop()
        for node in KafkaCluster(self.data_dir, KafkaCluster.ports_from(1, 2, 3)).nodes:
            node.stop()  # by the pid file of its data dir: the ports do not matter
        PostgresServer(self.data_dir).stop()


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith(ERROR)]


@pytest.fixture(scope="module")
def stack_cli(server_dir: Callable[[str], Path]) -> Iterator[Cli]:
    """One data dir and port set for the module's real stack; nothing left running afterwards."""
    cli = Cli.on(server_dir("stack"))
    try:
        yield cli
    finally:
        cli("down")
        cli.stop_servers()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """A data dir where no stack runs (tests that must not start one)."""
    cli = Cli.on(tmp_path / "data")
    yield cli
    cli.stop_servers()


@pytest.mark.integration
def test_up_status_down_twice(stack_cli: Cli) -> None:
    for again in (False, True):
        up = stack_cli("up")
        assert up.returncode == 0, up.stderr
        shown = stack_cli("status")
        pids = [int(pid) for pid in re.findall(r"running \(pid (\d+)\)", shown.stdout)]
        assert len(pids) == 2, shown.stdout
        assert f"data     {stack_cli.data_dir}" in shown.stdout
        info = json.loads(stack_cli("status", "--json").stdout)
        assert [info[part]["pid"] for part in ("kafka", "postgres")] == pids
        assert info["data_dir"] == str(stack_cli.data_dir)
        if not again:
            assert stack_cli("up").returncode == 0  # idempotent: the same servers go on
            assert stack_cli("status").stdout == shown.stdout
            migrated = stack_cli("migrate")  # FLASHSALE_DATABASE_URL (with a password) points at it
            assert migrated.returncode == 0, migrated.stderr
        down = stack_cli("down")
        assert down.returncode == 0, down.stderr
        stopped = stack_cli("status")
        assert stopped.stdout.count(" stopped ") == 2 and "running" not in stopped.stdout


@pytest.mark.integration
def test_postgres_failing_after_kafka_started_leaves_nothing_running(stack_cli: Cli) -> None:
    pgdata = stack_cli.data_dir / "postgres" / "data"
    if not (pgdata / "PG_VERSION").exists():  # run alone: make the cluster first
        assert stack_cli("up").returncode == 0
        assert stack_cli("down").returncode == 0
    auto_conf = pgdata / "postgresql.auto.conf"
    good = auto_conf.read_text()
    auto_conf.write_text(good + "shared_buffers = 'plenty'\n")
    try:
        up = stack_cli("up")
    finally:
        auto_conf.write_text(good)
    assert up.returncode == 1
    assert error_lines(up) == [up.stderr.splitlines()[-1]]
    assert re.fullmatch(
        f"{ERROR}Postgres failed to start: .*FATAL.*; stopped Kafka again", error_lines(up)[0]
    )
    assert stack_cli("status").stdout.count(" stopped ") == 2


@pytest.mark.parametrize("setting", ["KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "POSTGRES_PORT"])
def test_up_on_a_taken_port_is_one_line_and_starts_nothing(cli: Cli, setting: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        up = cli("up", **{f"FLASHSALE_{setting}": port})
    assert up.returncode == 1
    [line] = up.stderr.splitlines()  # nothing else: not even a progress line
    assert line.startswith(ERROR) and port in line and f"FLASHSALE_{setting}" in line
    assert cli("status").stdout.count(" stopped ") == 2


def test_dashboard_on_a_taken_port_is_one_line(cli: Cli) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        done = cli("dashboard", "--port", port)  # no broker either: the port is checked first
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"{ERROR}cannot listen on 127.0.0.1:{port}"), line


def test_dashboard_help_names_its_flags(cli: Cli) -> None:
    done = cli("dashboard", "--help")
    assert done.returncode == 0
    assert all(flag in done.stdout for flag in ("--host", "--port", "--namespace", "--group"))


@pytest.mark.parametrize("args", [["nosuch"], ["migrate", "--bogus"], ["dashboard", "--port", "0"],
                                  ["evaluate", "experiment", "--share", "1.5"]])  # fmt: skip
def test_misuse_exits_2_with_one_line(cli: Cli, args: list[str]) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(ERROR)


def test_a_bad_setting_is_named_in_one_line(cli: Cli) -> None:
    done = cli("status", FLASHSALE_KAFKA_PORT="notaport")
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "FLASHSALE_KAFKA_PORT" in done.stderr


def test_status_and_failures_never_show_the_password(cli: Cli) -> None:
    assert SECRET in cli.env["FLASHSALE_DATABASE_URL"]  # Cli.__call__ asserts it is never shown
    assert cli("status").returncode == 0
    assert cli("status", "--json").returncode == 0
    refused = cli("migrate")  # no Postgres on that port
    assert refused.returncode == 1
    assert len(error_lines(refused)) == 1 and len(refused.stderr.splitlines()) == 1


def test_a_malformed_database_url_is_one_line_without_the_password(cli: Cli) -> None:
    url = f"postgresql+psycopg2://flashsale:{SECRET}@127.0.0.1:notaport/flashsale"
    done = cli("migrate", FLASHSALE_DATABASE_URL=url)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "FLASHSALE_DATABASE_URL" in done.stderr


@pytest.mark.integration
def test_setup_names_java_postgres_and_kafka(cli: Cli) -> None:
    done = cli("setup")
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["java", "postgres", "kafka"]


def six_free_ports() -> int:
    """A port ``p`` with ``p`` … ``p + 5`` free: ``up --brokers 3`` on ``p``/``p + 1`` takes them all."""
    while any(port_in_use("127.0.0.1", (port := free_port()) + i) for i in range(6)):
        pass
    return port


@pytest.mark.integration
def test_up_brokers_3_then_status_and_down_know_the_cluster(server_dir: Callable[[str], Path]) -> None:
    from kafka import KafkaAdminClient, KafkaProducer

    cli, port = Cli.on(server_dir("cluster")), six_free_ports()
    cli.env |= {"FLASHSALE_KAFKA_PORT": str(port), "FLASHSALE_KAFKA_CONTROLLER_PORT": str(port + 1)}
    bootstrap = [f"127.0.0.1:{port + i}" for i in (0, 2, 4)]
    try:
        up = cli("up", "--brokers", "3")
        assert up.returncode == 0, up.stderr
        assert "kafka    3 of 3 running" in up.stdout and len(re.findall(r"running \(pid", up.stdout)) == 4
        urls = ",".join(f"kafka://{b}" for b in bootstrap)
        assert f"FLASHSALE_BROKER_URL={urls} FLASHSALE_TOPIC_REPLICATION_FACTOR=3" in up.stdout
        assert cli("up").stdout == up.stdout  # the data dir's cluster, not a single node next to it
        single = cli("up", "--brokers", "1")
        assert single.returncode == 1 and error_lines(single) == single.stderr.splitlines()
        assert "runs with 3 broker(s)" in single.stderr
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        producer.send("auto-created", b"x").get(timeout=60)
        producer.close()
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        [topic] = admin.describe_topics(["auto-created"])
        admin.close()
        assert {len(p["replica_nodes"]) for p in topic["partitions"]} == {3}
        assert cli("down").returncode == 0
        stopped = cli("status").stdout
        assert "kafka    0 of 3 running" in stopped and "running (" not in stopped, stopped
    finally:
        cli("down")
        cli.stop_servers()


def test_evaluate_experiment_writes_its_report_and_plot(cli: Cli, tmp_path: Path) -> None:
    import json

    out = tmp_path / "x" / "experiment.json"
    done = cli("evaluate", "experiment", "--seeds", "1", "--first-seed", "3", "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["seeds"] == 1 and report["covered"] in (0, 1)
    row = report["estimate_vs_truth"][0]
    assert row["seed"] == 3 and row["revenue"]["lo"] <= row["revenue"]["estimate"] <= row["revenue"]["hi"]
    assert out.with_suffix(".png").stat().st_size > 10_000 and "100%" in done.stderr  # plot, progress
    assert f"covered: {report['covered']} of 1 seeds" in done.stdout
