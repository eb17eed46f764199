"""A local replicated Apache Kafka: ``n`` KRaft nodes from the same jars, each broker + controller.

Every node is a :class:`infra.kafka.KafkaServer` under ``<data_dir>/kafka-cluster/node-<id>``, all
static voters of one quorum and formatted with one cluster id. Topics get 3 replicas (internal ones
too) and an ``acks=all`` write must be on 2 of them, so the cluster loses nothing when one node dies.

>>> cluster = KafkaCluster(Path("/tmp/fs"), [(19092, 19093), (19094, 19095), (19096, 19097)])
>>> cluster.bootstrap
'127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096'
>>> [node.node_id for node in cluster.nodes], cluster.nodes[2].quorum
([1, 2, 3], '1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097')
>>> KafkaCluster.ports_from(9092, 9093, 3)
[(9092, 9093), (9094, 9095), (9096, 9097)]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from infra.errors import InfraError
from infra.kafka import KAFKA_VERSION, KafkaServer
from infra.kafka_config import new_cluster_id, voters

REPLICAS = 3  # of every topic: one node may die while another is behind
MIN_INSYNC = 2  # replicas an acks=all write is stored on before it is acknowledged
MIN_NODES = REPLICAS  # fewer could not place three replicas
# Less than a single node's 512m: three JVMs share the laptop with the workers and Postgres.
NODE_HEAP = "384m"


class KafkaCluster:
    """``len(ports)`` local nodes; ``ports``: each node's (broker port, controller port)."""

    def __init__(
        self, data_dir: Path, ports: Sequence[tuple[int, int]], host: str = "127.0.0.1", heap: str = NODE_HEAP
    ) -> None:
        if len(ports) < MIN_NODES:
            raise InfraError(f"a replicated Kafka needs at least {MIN_NODES} brokers, not {len(ports)}")
        flat = [port for pair in ports for port in pair]
        if len(set(flat)) != len(flat):
            raise InfraError(f"the Kafka nodes' ports overlap: {', '.join(map(str, flat))}")
        self.root, self.host = Path(data_dir) / "kafka-cluster", host
        quorum = voters([controller for _, controller in ports], host)
        cluster_id = self._formatted_id()
        self.nodes = [
            KafkaServer(
                self.root / f"node-{i}",
                port=port,
                controller_port=controller,
                host=host,
                heap=heap,
                node_id=i,
                quorum=quorum,
                replicas=REPLICAS,
                min_insync=MIN_INSYNC,
                cluster_id=cluster_id,
            )
            for i, (port, controller) in enumerate(ports, 1)
        ]

    @staticmethod
    def ports_from(port: int, controller_port: int, n: int) -> list[tuple[int, int]]:
        """Node ``i``'s ports: the first node's, plus ``2 i`` (so 9092/9093 give 9094/9095, 9096/9097)."""
        return [(port + 2 * i, controller_port + 2 * i) for i in range(n)]

    @property
    def bootstrap(self) -> str:
        """Every node's ``host:port``, comma separated (clients need any one that is up)."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def port(self) -> int:
        """The first node's port (what ``flashsale up`` names when it starts the cluster)."""
        return self.nodes[0].port

    def node(self, node_id: int) -> KafkaServer:
        """The node whose broker id (as metadata names leaders) is ``node_id``."""
        return self.nodes[node_id - 1]

    def is_running(self) -> bool:
        """Whether every node runs (some may still be starting)."""
        return all(node.is_running() for node in self.nodes)

    def running_nodes(self) -> list[KafkaServer]:
        return [node for node in self.nodes if node.is_running()]

    def check_ports(self) -> None:
        """InfraError (one line) if a port of a node that is not running is taken."""
        for node in self.nodes:
            if not node.is_running():
                node.check_ports()

    def start(self, timeout: float = 120) -> None:
        """Start every node that is not running, then wait until each serves metadata.

        All are launched before any is waited for: a node serves only once a majority of the voters
        runs. If one fails, the nodes this call started are stopped again.
        """
        started: list[KafkaServer] = []
        try:
            launched = []
            for node in self.nodes:
                proc = node.launch()
                if proc is not None:
                    started.append(node)
                launched.append((node, proc))
            deadline = time.monotonic() + timeout
            for node, proc in launched:
                node.wait_started(proc, max(deadline - time.monotonic(), 1))
        except BaseException:  # Ctrl-C too: leave no node of this call running
            for node in started:
                node.stop(timeout=10)
            raise

    def stop(self, timeout: float = 30) -> None:
        """Stop every node (SIGTERM, then SIGKILL after ``timeout``); data stays."""
        for node in reversed(self.nodes):  # the first node last: it is the one clients were told of
            node.stop(timeout)

    def status(self) -> dict[str, object]:
        """A summary for ``flashsale status``: the cluster's, and each node's."""
        nodes = [{"node_id": node.node_id, **node.status()} for node in self.nodes]
        return {
            "running": all(n["running"] for n in nodes),
            "pid": [n["pid"] for n in nodes],
            "bootstrap": self.bootstrap,
            "brokers": len(nodes),
            "replication_factor": REPLICAS,
            "min_insync_replicas": MIN_INSYNC,
            "nodes": nodes,
            "data_dir": str(self.root),
            "version": KAFKA_VERSION,
        }

    def _formatted_id(self) -> str:
        """The cluster id a node's data dir was formatted with, or a new one for a new cluster."""
        for meta in sorted(self.root.glob("node-*/kafka/data/meta.properties")):
            for line in meta.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "cluster.id":
                    return value.strip()
        return new_cluster_id()
