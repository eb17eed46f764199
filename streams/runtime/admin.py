"""Kafka administration with kafka-python: client config from settings, and topic creation."""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.contracts.topics import (
    CATALOG,
    DEAD_LETTERS,
    INPUT_TOPICS,
    INTERNAL_TOPICS,
    OUTPUT_TOPICS,
    SKU_EVENTS,
    SKU_STATUS,
)
from streams.settings import Settings

# Kafka's default, set on the topics that take copies of input (dead letters, forwarded events), so they
# accept the largest record the app's producer sends (1,000,000 bytes) even where a broker's default is lower.
COPY_MESSAGE_BYTES = {"max.message.bytes": "1048588"}
# Compacted topics that are rewritten all sale long (SKU statuses, table changelogs) stay compact while it
# runs: the log cleaner only compacts closed segments, and by default one stays open for 7 days or 1 GiB.
COMPACT_DURING_SALE = {
    "segment.ms": str(5 * 60 * 1000),  # a segment closes after 5 minutes ...
    "segment.bytes": str(64 * 1024 * 1024),  # ... or 64 MiB, whichever comes first
    "min.cleanable.dirty.ratio": "0.3",  # compact once 30 % of the closed log is overwritten values
}
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    CATALOG: {"cleanup.policy": "compact"},
    # sku-status is also the history `flashsale plan` learns from (by hour and weekday): a status stays
    # uncompacted for 8 days (a week and a day), then only each SKU's latest is kept.
    SKU_STATUS: {
        "cleanup.policy": "compact",
        **COMPACT_DURING_SALE,
        "min.compaction.lag.ms": str(8 * 86_400_000),
    },
    SKU_EVENTS: COPY_MESSAGE_BYTES,
    DEAD_LETTERS: {"retention.ms": str(30 * 24 * 3600 * 1000), **COPY_MESSAGE_BYTES},
}


def bootstrap_servers(broker_url: str) -> list[str]:
    """``kafka://h1:9092;h2:9092`` (Faust style) → ``["h1:9092", "h2:9092"]``.

    >>> bootstrap_servers("kafka://127.0.0.1:9092,kafka://10.0.0.2:9092")
    ['127.0.0.1:9092', '10.0.0.2:9092']
    """
    hosts = broker_url.replace(";", ",").split(",")
    return [h.strip().removeprefix("kafka://").rstrip("/") for h in hosts if h.strip()]


def client_config(settings: Settings) -> dict[str, Any]:
    """kafka-python / aiokafka connection settings, security included."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings.broker_url),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        config["sasl_plain_password"] = password.get_secret_value() if password else None
    if settings.kafka_ssl_cafile:
        config["ssl_cafile"] = str(settings.kafka_ssl_cafile)
    return config


def aiokafka_config(settings: Settings) -> dict[str, Any]:
    """The same connection settings for aiokafka clients (TLS as an SSL context)."""
    config = client_config(settings)
    cafile = config.pop("ssl_cafile", None)
    config["bootstrap_servers"] = ",".join(config["bootstrap_servers"])
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        config["ssl_context"] = ssl.create_default_context(cafile=cafile)
    return config


def partitions_of(settings: Settings, names: list[str], timeout_s: float = 30) -> dict[str, list[int]]:
    """Partition numbers of each topic (waiting while fresh topics have no metadata yet)."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            found = {n: sorted(consumer.partitions_for_topic(n) or ()) for n in names}
            if all(found.values()) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)
    finally:
        consumer.close()


def ensure_topics(settings: Settings) -> list[str]:
    """Create the app's topics that do not exist yet; returns the names created."""
    admin = KafkaAdminClient(**client_config(settings), client_id="flashsale-admin")
    try:
        existing = set(admin.list_topics())
        missing = []
        for name in (*INPUT_TOPICS, *OUTPUT_TOPICS, *INTERNAL_TOPICS):
            full = settings.topic(name)
            if full not in existing:
                missing.append(
                    NewTopic(
                        full,
                        num_partitions=settings.topic_partitions,
                        replication_factor=settings.topic_replication_factor,
                        topic_configs=TOPIC_CONFIGS.get(name, {}),
                    )
                )
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
                admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        admin.close()


def committed(admin: KafkaAdminClient, group: str, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The group's committed offset of each partition (0 where it has none yet)."""
    try:
        offsets = admin.list_group_offsets({group: tps}).get(group, {})
    except KafkaError:  # the coordinator is not known yet (a fresh broker or group)
        offsets = {}
    found = {tp: o.offset for tp, o in offsets.items()}
    return {tp: max(found.get(tp, 0), 0) for tp in tps}


def message_limits(admin: KafkaAdminClient, topics: Iterable[str]) -> dict[str, int]:
    """Each (existing) topic's ``max.message.bytes``: its own, or the broker's default."""
    key = "max.message.bytes"
    resources = [ConfigResource(ConfigResourceType.TOPIC, t, {key: None}) for t in topics]
    if not resources:
        return {}
    found = admin.describe_configs(resources, config_filter="all").get("topic", {})
    return {topic: int(configs[key]["value"]) for topic, configs in found.items() if key in configs}
