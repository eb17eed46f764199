"""The files a local Kafka node starts from: ``server.properties``, the log4j2 config, a cluster id.

>>> "log.retention.ms=-1" in server_properties(Path("/tmp/k"), 19092, 19093)
True
>>> listener_ports(server_properties(Path("/tmp/k"), 19092, 19093))
(19092, 19093)
>>> voters([19093, 19095, 19097])
'1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097'
"""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path

LOG4J2 = """status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {logs}/server.log
appender.file.filePattern = {logs}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 5
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
"""
# Static voters (not a formatted dynamic quorum), so the ports may change between starts: one voter for
# a single node, every node of a local cluster (each is broker + controller) otherwise.
SERVER_PROPERTIES = """process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={log_dirs}
num.partitions=4
auto.create.topics.enable=true
# Replicas of every topic, internal ones included, and how many must hold a write acked by acks=all.
default.replication.factor={replicas}
min.insync.replicas={min_insync}
offsets.topic.replication.factor={replicas}
# 8, not 50: creating __consumer_offsets is what makes the first group join slow.
offsets.topic.num.partitions=8
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_insync}
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={min_insync}
group.initial.rebalance.delay.ms=0
# Faust's session timeout is 6 s; the broker default minimum is exactly 6 s.
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=4
# Kafka timestamps are event times: replays and simulations carry past and future ones (4.x
# rejects timestamps more than 1 h ahead by default).
log.message.timestamp.before.max.ms=9223372036854775807
log.message.timestamp.after.max.ms=9223372036854775807
# ...and time-based retention reads those timestamps: a replay of last month would be deleted at once.
log.retention.ms=-1
"""
_LISTENERS = re.compile(r"^listeners=PLAINTEXT://[^,]*:(\d+),CONTROLLER://.*:(\d+)$", re.M)


def server_properties(
    data_dir: Path,
    port: int,
    controller_port: int,
    host: str = "127.0.0.1",
    *,
    node_id: int = 1,
    quorum: str | None = None,
    replicas: int = 1,
    min_insync: int = 1,
) -> str:
    """``server.properties`` of a combined broker + controller whose logs live in ``data_dir``.

    ``quorum``: every voter (:func:`voters`) of a cluster this node is one of; None for a node alone.
    ``replicas`` / ``min_insync``: replication of every topic, and the replicas an acked write is on.
    """
    return SERVER_PROPERTIES.format(
        host=host,
        port=port,
        controller_port=controller_port,
        log_dirs=data_dir,
        node_id=node_id,
        voters=quorum or f"{node_id}@{host}:{controller_port}",
        replicas=replicas,
        min_insync=min_insync,
    )


def voters(controller_ports: list[int], host: str = "127.0.0.1") -> str:
    """``controller.quorum.voters`` of local nodes 1..n listening on ``controller_ports``."""
    return ",".join(f"{i}@{host}:{port}" for i, port in enumerate(controller_ports, 1))


def log4j2_properties(logs: Path) -> str:
    """A log4j2 config that writes ``server.log`` (rolled at 10 MB, 5 kept) into ``logs``."""
    return LOG4J2.format(logs=logs)


def listener_ports(properties: str) -> tuple[int, int] | None:
    """The (broker, controller) ports a ``server.properties`` written by us listens on, or None."""
    match = _LISTENERS.search(properties)
    return (int(match.group(1)), int(match.group(2))) if match else None


def new_cluster_id() -> str:
    """A KRaft cluster id in Kafka's own format: a random UUID, base64url without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka never issues ids that look like command-line flags
            return text
