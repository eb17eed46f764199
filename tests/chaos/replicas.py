"""Where a replicated cluster keeps a run's partitions: leaders, in-sync replicas, the busiest leader."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.contracts.topics import INPUT_TOPICS
from streams.runtime.admin import client_config
from streams.settings import Settings

OFFSETS_TOPIC = "__consumer_offsets"


@dataclass(frozen=True)
class Placement:
    """One partition's leader and replicas, as the cluster's metadata has them."""

    leader: int  # -1 while it has none
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


def run_topics(settings: Settings) -> list[str]:
    """Every topic of the run's namespace (contract topics, Faust's changelogs and its assignor's)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**client_config(settings))
    try:
        return sorted(t for t in admin.list_topics() if settings.topic_prefix in t)
    finally:
        admin.close()


def placements(settings: Settings, topics: list[str]) -> dict[tuple[str, int], Placement]:
    """(topic, partition) → its placement, for every partition of ``topics``."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**client_config(settings))
    try:
        described = admin.describe_topics(topics)
    finally:
        admin.close()
    return {
        (t["name"], p["partition_index"]): Placement(
            p["leader_id"], tuple(p["replica_nodes"]), tuple(p["isr_nodes"])
        )
        for t in described
        for p in t["partitions"]
    }


def min_insync(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Each topic's effective ``min.insync.replicas`` (its own, or the brokers' default)."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    key = "min.insync.replicas"
    admin = KafkaAdminClient(**client_config(settings))
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, t, {key: None}) for t in topics]
        found: dict[str, Any] = admin.describe_configs(resources, config_filter="all").get("topic", {})
    finally:
        admin.close()
    return {topic: int(configs[key]["value"]) for topic, configs in found.items() if key in configs}


def busiest_leader(settings: Settings, end_offsets: dict[tuple[str, int], int]) -> tuple[int, int]:
    """(broker, records): the broker leading the most input records of the run, by ``end_offsets``."""
    inputs = [settings.topic(t) for t in INPUT_TOPICS]
    led: Counter[int] = Counter()
    for tp, placement in placements(settings, inputs).items():
        led[placement.leader] += end_offsets.get(tp, 0)
    broker, records = led.most_common(1)[0]
    return broker, records


def input_end_offsets(settings: Settings) -> dict[tuple[str, int], int]:
    """(topic, partition) → end offset, for every input partition of the run."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**client_config(settings), group_id=None)
    try:
        names = [settings.topic(t) for t in INPUT_TOPICS]
        tps = [TopicPartition(n, p) for n in names for p in sorted(consumer.partitions_for_topic(n) or ())]
        return {(tp.topic, tp.partition): end for tp, end in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def led_by(settings: Settings, topics: list[str], broker: int) -> list[tuple[str, int]]:
    """The partitions of ``topics`` whose leader is ``broker``."""
    return sorted(tp for tp, p in placements(settings, topics).items() if p.leader == broker)


def leaders_moved(settings: Settings, partitions: list[tuple[str, int]], gone: int) -> bool:
    """Whether each of ``partitions`` has a leader again, and not ``gone``."""
    found = placements(settings, sorted({topic for topic, _ in partitions}))
    return all(found[tp].leader not in (gone, -1) for tp in partitions)


def fully_in_sync(settings: Settings, topics: list[str]) -> bool:
    """Whether every replica of every partition of ``topics`` is in sync."""
    return all(set(p.isr) == set(p.replicas) for p in placements(settings, topics).values())


def unless_unreachable(condition: Callable[[], bool]) -> Callable[[], bool]:
    """``condition``, False where a look failed on the broker that is down: kafka-python's admin client
    sends a request to one node and raises when that one is gone, instead of asking another."""
    from kafka.errors import KafkaError

    def holds() -> bool:
        try:
            return condition()
        except KafkaError:
            return False

    return holds
