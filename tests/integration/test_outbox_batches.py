"""Record batches of the outbox (``Outbox.send_bytes``) on the real broker: what Faust would send."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import KafkaConsumer

from streams.app import create_app
from streams.contracts.topics import RECOMMENDATIONS
from streams.runtime.admin import client_config, ensure_topics
from streams.runtime.outbox import Outbox
from streams.settings import Settings

pytestmark = pytest.mark.integration


def read_all(settings: Settings, topic: str, n: int) -> list[Any]:
    consumer = KafkaConsumer(topic, **client_config(settings), auto_offset_reset="earliest", group_id=None)
    records: list[Any] = []
    try:
        for _ in range(60):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
            if len(records) >= n:
                break
    finally:
        consumer.close()
    return records


async def test_record_batches_land_like_faust_sends_in_order(settings: Settings) -> None:
    ensure_topics(settings)
    fs = create_app(settings, web=False)
    topic = fs.topics.recommendations
    name = settings.topic(RECOMMENDATIONS)
    await fs.app.producer.start()
    try:
        keys = [f"user-{i}" for i in range(40)]
        outbox = Outbox(fs.app)
        for i, key in enumerate(keys):  # small records: many share one batch per partition
            value, stamp, headers = f"v{i}".encode(), 1_700_000_000.25 + i, [("n", str(i).encode())]
            await outbox.send_bytes(name, key=key.encode(), value=value, timestamp=stamp, headers=headers)
        big = b"x" * 100_000  # 5 of these overflow one 256 KiB batch: the full batch goes first
        for i in range(5):
            await outbox.send_bytes(name, value=big + bytes([i]), partition=1)
        assert len(outbox) >= 2  # batches wait for settle (the first full one is already out)
        await outbox.settle()
        assert len(outbox) == 0
        faust_sent = [await (await topic.send(key=key, value=b"{}")) for key in keys[:8]]  # Faust's own way
    finally:
        await fs.app.producer.stop()

    records = read_all(settings, name, 40 + 5 + 8)
    by_key = {r.key: r for r in records if r.value != b"{}" and r.key is not None}
    assert len(by_key) == 40
    for i, key in enumerate(keys):
        record = by_key[key.encode()]
        assert record.value == f"v{i}".encode()
        assert record.timestamp == 1_700_000_000_250 + i * 1000  # epoch seconds in, milliseconds on the wire
        assert record.headers == [("n", str(i).encode())]
    # The partition of a key is the one Faust's default partitioner picks for it.
    assert {key: by_key[key.encode()].partition for key in keys[:8]} == {
        key: meta.topic_partition.partition for key, meta in zip(keys[:8], faust_sent, strict=True)
    }
    assert len({r.partition for r in by_key.values()}) > 1
    # Records of one partition keep their order, across batches too.
    for partition in {r.partition for r in records}:
        here = sorted((r for r in records if r.partition == partition), key=lambda r: r.offset)
        sent = [int(r.headers[0][1]) for r in here if r.headers]
        assert sent == sorted(sent)
    bigs = sorted((r for r in records if r.value.startswith(b"xxx")), key=lambda r: r.offset)
    assert [r.value[-1] for r in bigs] == [0, 1, 2, 3, 4]
    assert {r.partition for r in bigs} == {1}


async def test_send_bytes_needs_a_started_producer_and_a_key_or_partition(settings: Settings) -> None:
    with pytest.raises(RuntimeError, match=r"send_bytes needs an Outbox\(app\)"):
        await Outbox().send_bytes("t", key=b"k", value=b"v")
    fs = create_app(settings, web=False)
    with pytest.raises(RuntimeError, match="producer has not started"):
        await Outbox(fs.app).send_bytes("t", key=b"k", value=b"v")
    await fs.app.producer.start()
    try:
        with pytest.raises(ValueError, match="a key or a partition"):
            await Outbox(fs.app).send_bytes(settings.topic(RECOMMENDATIONS), value=b"v")
    finally:
        await fs.app.producer.stop()
