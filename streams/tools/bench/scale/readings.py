"""What ``flashsale bench scale`` reads off the broker: a topic's size, how far the per-SKU state has got."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from streams.contracts.topics import SKU_STATUS
from streams.runtime.admin import client_config
from streams.settings import Settings


def sku_state_behind_s(ns: Settings, at: datetime, timeout_s: float = 120) -> float:
    """How long before ``at`` the least advanced SKU's open bucket starts, from each SKU's latest status
    (published when buckets close): within a minute and the allowed lateness once the state is built."""
    topic = ns.topic(SKU_STATUS)
    consumer = KafkaConsumer(**client_config(ns), group_id=None, enable_auto_commit=False)
    opens: dict[bytes, float] = {}  # sku → its open bucket's start, epoch s
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends, deadline = consumer.end_offsets(tps), time.monotonic() + timeout_s
        while any(consumer.position(tp) < end for tp, end in ends.items()) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    bucket = (json.loads(record.value).get("forecast") or {}).get("bucket")
                    if bucket is not None:
                        opens[record.key] = datetime.fromisoformat(bucket).timestamp()
    finally:
        consumer.close()
    return max((at.timestamp() - start for start in opens.values()), default=math.inf)


def topic_size(settings: Settings, topic: str) -> tuple[int, int]:
    """(records ever written, bytes on the brokers' disks now) of ``topic``."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None)
    admin = KafkaAdminClient(**client_config(settings), client_id="flashsale-bench")
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        records = sum(consumer.end_offsets(tps).values())
        dirs = admin.describe_log_dirs([topic])
        size = sum(
            p["partition_size"] for broker in dirs for log_dir in broker["log_dirs"]
            for t in log_dir["topics"] if t["name"] == topic for p in t["partitions"]
        )  # fmt: skip
        return records, size
    finally:
        consumer.close()
        admin.close()
