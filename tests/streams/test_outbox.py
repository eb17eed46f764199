"""The outbox: a batch is acknowledged only once the broker has stored everything it sent."""

from __future__ import annotations

import asyncio

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
