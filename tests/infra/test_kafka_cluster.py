"""The replicated local Kafka's files and layout, without a JVM: each node's config, ports, cluster id."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.errors import InfraError
from infra.kafka import KafkaServer
from infra.kafka_cluster import KafkaCluster
from infra.kafka_config import listener_ports, server_properties

PORTS = [(19092, 19093), (19094, 19095), (19096, 19097)]
VOTERS = "controller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
REPLICATED = [
    "default.replication.factor=3",
    "min.insync.replicas=2",
    "offsets.topic.replication.factor=3",
    "transaction.state.log.replication.factor=3",
    "transaction.state.log.min.isr=2",
    "share.coordinator.state.topic.replication.factor=3",
    "share.coordinator.state.topic.min.isr=2",
]


def written_config(node: KafkaServer) -> list[str]:
    node._write_config()
    return node.config.read_text().splitlines()


def test_each_node_lists_every_voter_and_replicates_every_topic(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path, PORTS)
    for i, node in enumerate(cluster.nodes, 1):
        lines = written_config(node)
        assert f"node.id={i}" in lines and VOTERS in lines
        assert set(REPLICATED) <= set(lines)
        assert listener_ports("\n".join(lines)) == PORTS[i - 1]
        assert f"log.dirs={tmp_path}/kafka-cluster/node-{i}/kafka/data" in lines
    assert cluster.bootstrap == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"


def test_a_single_node_stays_its_own_unreplicated_voter() -> None:
    lines = server_properties(Path("/tmp/k/data"), 19092, 19093).splitlines()
    assert "node.id=1" in lines and "controller.quorum.voters=1@127.0.0.1:19093" in lines
    assert {
        "default.replication.factor=1",
        "min.insync.replicas=1",
        "offsets.topic.replication.factor=1",
    } <= set(lines)


def test_nodes_share_the_cluster_id_a_node_was_formatted_with(tmp_path: Path) -> None:
    fresh = KafkaCluster(tmp_path, PORTS)
    assert len({node.cluster_id for node in fresh.nodes}) == 1
    meta = tmp_path / "kafka-cluster" / "node-2" / "kafka" / "data" / "meta.properties"
    meta.parent.mkdir(parents=True)
    meta.write_text("version=1\ncluster.id=AbCdEfGhIjKlMnOpQrStUv\nnode.id=2\n")
    assert {node.cluster_id for node in KafkaCluster(tmp_path, PORTS).nodes} == {"AbCdEfGhIjKlMnOpQrStUv"}


def test_ports_must_be_distinct_and_nodes_enough(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="at least 3 brokers, not 2"):
        KafkaCluster(tmp_path, PORTS[:2])
    with pytest.raises(InfraError, match="overlap"):
        KafkaCluster(tmp_path, [(19092, 19093), (19093, 19094), (19096, 19097)])
    assert KafkaCluster.ports_from(9092, 9093, 3) == [(9092, 9093), (9094, 9095), (9096, 9097)]


def test_status_of_a_cluster_that_never_ran(tmp_path: Path) -> None:
    status = KafkaCluster(tmp_path, PORTS).status()
    assert status["running"] is False and status["brokers"] == 3
    assert (status["replication_factor"], status["min_insync_replicas"]) == (3, 2)
    assert [n["node_id"] for n in status["nodes"]] == [1, 2, 3]  # type: ignore[attr-defined]
