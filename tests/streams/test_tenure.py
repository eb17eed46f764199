"""Tenure: what a batch may still act for while rebalances come and go."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams.runtime.tenure import Ownership

P0, P1 = TP("sku-events", 0), TP("sku-events", 1)


class AssignedSignal:
    """Faust's ``on_partitions_assigned`` as the app sends it: ``handler(app, assigned, signal=…)``."""

    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def connect(self, handler: Any) -> None:
        self.handlers.append(handler)

    async def send(self, app: Any, assigned: set[TP]) -> None:
        for handler in self.handlers:
            await handler(app, assigned, signal=self)


def worker(*assigned: TP) -> Any:
    """Just what Ownership reads of a Faust app, with ``assigned`` as its first assignment."""
    consumer = SimpleNamespace(assigned=set(assigned), _committed_offset={})  # what Faust believes committed
    consumer.assignment = lambda: consumer.assigned
    return SimpleNamespace(
        rebalancing=False,
        rebalancing_count=1,
        consumer=consumer,
        on_partitions_assigned=AssignedSignal(),
        on_partitions_revoked=AssignedSignal(),  # the same shape
        consumer_generation_id=1,
    )


async def rebalance(app: Any, ownership: Ownership, assigned: set[TP]) -> None:
    """An eager rebalance: everything revoked, then ``assigned`` (recovery still to come)."""
    app.rebalancing, app.rebalancing_count = True, app.rebalancing_count + 1
    app.consumer_generation_id += 1
    app.consumer.assigned = assigned
    await app.on_partitions_assigned.send(app, assigned)


async def owned(*assigned: TP) -> tuple[Any, Ownership]:
    app = worker(*assigned)
    ownership = Ownership(app)
    await app.on_partitions_assigned.send(app, set(assigned))
    return app, ownership


async def test_a_batch_holds_what_was_assigned_when_it_began() -> None:
    _, ownership = await owned(P0)
    tenure = await ownership.begin()
    assert tenure.holds(P0) and not tenure.holds(P1) and tenure.steady


async def test_a_batch_that_begins_during_a_rebalance_waits_for_its_end() -> None:
    """Held from the new assignment on, its records fetched since then are applied: withheld, they would
    come again only when the commit-stall watch read their partition again, a minute later."""
    app, ownership = await owned(P0, P1)
    await rebalance(app, ownership, assigned={P1})  # recovery under way
    fetched_since = fetched(P1, app.consumer_generation_id)
    begun = asyncio.ensure_future(ownership.begin())
    await asyncio.sleep(0.15)
    assert not begun.done()
    app.rebalancing = False
    tenure = await asyncio.wait_for(begun, 1)
    assert tenure.current(fetched_since) and tenure.steady
    assert not tenure.holds(P0)  # lost in the rebalance


async def test_a_rebalance_mid_batch_ends_the_steady_state_and_a_lost_partition_is_let_go() -> None:
    app, ownership = await owned(P0, P1)
    tenure = await ownership.begin()
    await rebalance(app, ownership, assigned={P1})  # P1 was revoked too, and assigned straight back
    assert not tenure.steady
    assert not tenure.holds(P0) and tenure.holds(P1)
    app.rebalancing = False  # recovery done
    assert await tenure.kept() == {P1}


async def test_kept_waits_for_the_rebalance_to_end() -> None:
    app, ownership = await owned(P0)
    tenure = await ownership.begin()
    await rebalance(app, ownership, assigned={P0})
    kept = asyncio.ensure_future(tenure.kept())
    await asyncio.sleep(0.15)
    assert not kept.done()
    app.rebalancing = False
    assert await asyncio.wait_for(kept, 1) == {P0}


async def test_a_partition_lost_and_regained_during_the_batch_is_not_kept() -> None:
    app, ownership = await owned(P0)
    tenure = await ownership.begin()
    await rebalance(app, ownership, assigned=set())
    await rebalance(app, ownership, assigned={P0})  # another worker may have moved it on meanwhile
    app.rebalancing = False
    assert await tenure.kept() == frozenset()
    assert (await ownership.begin()).holds(P0)  # the next batch starts afresh


async def test_the_partitions_an_assignment_leaves_out_are_reported_lost() -> None:
    app, ownership = await owned(P0, P1)
    reported: list[frozenset[TP]] = []
    ownership.on_lost.append(reported.append)
    await rebalance(app, ownership, assigned={P1})
    assert reported == [{P0}]


def fetched(tp: TP, generation: int) -> Any:
    """An event as a batch sees it: its message's partition and the group generation it was fetched in."""
    return SimpleNamespace(message=SimpleNamespace(tp=tp, generation_id=generation))


@pytest.mark.parametrize("committed", [40, 0, None])  # None: the group never committed the partition
async def test_a_record_fetched_before_a_rebalance_is_not_applied_after_it(committed: int | None) -> None:
    """The rebalance starts the kept partition again from its commit, or from its start if it has none:
    the record comes again, in order with the records the rebalance made this worker drop. Applied now,
    it would move the user's offset past them, and read again they would pass for redeliveries."""
    app, ownership = await owned(P0)
    before = fetched(P0, app.consumer_generation_id)
    assert (await ownership.begin()).current(before)
    await rebalance(app, ownership, assigned={P0})  # P0 stays here
    app.consumer._committed_offset[P0] = committed
    app.rebalancing = False
    tenure = await ownership.begin()
    assert tenure.holds(P0) and not tenure.current(before)
    assert tenure.current(fetched(P0, app.consumer_generation_id))
    assert not tenure.current(fetched(P1, app.consumer_generation_id))  # not held


async def test_a_revocation_waits_for_state_writes_under_way() -> None:
    """A batch that found its partitions held sends their state; a rebalance that begins meanwhile goes
    on only once those records are stored, before the partitions' next owner reads the changelogs."""
    app, ownership = await owned(P0)
    delivered = asyncio.Event()
    order: list[str] = []

    async def batch_write() -> None:
        async with ownership.writing():
            await delivered.wait()
            order.append("stored")

    async def revocation() -> None:
        await app.on_partitions_revoked.send(app, {P0})
        order.append("revoked")

    writing = asyncio.create_task(batch_write())
    revoking = asyncio.create_task(revocation())
    await asyncio.sleep(0.05)
    assert order == [] and not revoking.done()
    delivered.set()
    await asyncio.gather(writing, revoking)
    assert order == ["stored", "revoked"]


async def test_a_revocation_waits_no_longer_than_its_bound() -> None:
    app, _ = await owned(P0)
    ownership = Ownership(app, write_wait_s=0.05)
    stuck = asyncio.Event()

    async def batch_write() -> None:
        async with ownership.writing():
            await stuck.wait()  # a delivery that does not come (a broker outage)

    writing = asyncio.create_task(batch_write())
    await asyncio.sleep(0)
    await asyncio.wait_for(app.on_partitions_revoked.send(app, {P0}), timeout=5)
    assert ownership.writes == 1
    stuck.set()
    await writing
    assert ownership.writes == 0
