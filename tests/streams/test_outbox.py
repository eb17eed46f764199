"""The outbox: a batch is acknowledged only once the broker has stored everything it sent."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from streams.runtime.outbox import Outbox


async def test_settle_waits_for_every_delivery() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    outbox = Outbox()
    outbox.add(first)
    outbox.add(second)
    settling = asyncio.create_task(outbox.settle())
    first.set_result("stored")
    await asyncio.sleep(0.01)
    assert not settling.done()  # one delivery is still out
    second.set_result("stored")
    await asyncio.wait_for(settling, 1)
    assert len(outbox) == 0


async def test_a_failed_delivery_fails_the_batch() -> None:
    delivery = asyncio.get_running_loop().create_future()
    delivery.set_exception(ConnectionError("broker gone"))
    outbox = Outbox()
    outbox.add(delivery)
    with pytest.raises(ConnectionError, match="broker gone"):
        await outbox.settle()


class Table:
    """A local store that records what it was handed."""

    def __init__(self) -> None:
        self.stored: list[tuple[dict[tuple[int, str], bytes], dict[tuple[str, int], int]]] = []

    def store(self, writes: dict[tuple[int, str], bytes], stored: Any) -> None:
        self.stored.append((writes, dict(stored)))


def delivered(topic: str, partition: int, offset: int) -> asyncio.Future[Any]:
    delivery = asyncio.get_running_loop().create_future()
    delivery.set_result(SimpleNamespace(topic=topic, partition=partition, offset=offset))
    return delivery


async def test_staged_state_reaches_the_table_after_its_delivery_with_the_offsets_stored() -> None:
    table, outbox = Table(), Outbox()
    outbox.add(delivered("users-changelog", 0, 41))
    outbox.add(delivered("users-changelog", 0, 40))
    outbox.stage(table, 0, "u1", b"old")
    outbox.stage(table, 0, "u1", b"new")  # the batch's last value of a key is the one stored
    outbox.stage(table, 1, "u2", b"v")
    assert table.stored == []  # nothing before the broker has it
    await outbox.settle()
    assert table.stored == [({(0, "u1"): b"new", (1, "u2"): b"v"}, {("users-changelog", 0): 41})]
    await outbox.settle()
    assert len(table.stored) == 1  # handed over once


async def test_staged_state_is_dropped_when_keep_state_says_no_or_a_delivery_fails() -> None:
    table, outbox = Table(), Outbox()
    outbox.add(delivered("users-changelog", 0, 7))
    outbox.stage(table, 0, "u1", b"v")
    await outbox.settle(keep_state=lambda: False)  # a rebalance began while it was delivered
    failed = asyncio.get_running_loop().create_future()
    failed.set_exception(ConnectionError("broker gone"))
    outbox.add(failed)
    outbox.stage(table, 0, "u1", b"w")
    with pytest.raises(ConnectionError):
        await outbox.settle()
    assert table.stored == []
