"""Which partitions a batch may still act for: a rebalance can take them away while it runs.

Workers run with ``stream_wait_empty=False``, so a rebalance does not wait for a running batch:
without a check, a batch that began before it goes on applying events of partitions now owned
elsewhere, to table values Faust has already dropped, and writes the result to their changelogs
(a stale write that a later recovery would restore). Agents therefore drop events of partitions
they do not hold when a batch begins, and before writing state ask what they still hold.

A batch that found its partitions still held may be sending their state when a rebalance begins:
the revocation waits for it (:meth:`Ownership.writing`), so those changelog records are stored before
a partition's next owner reads its changelog. Sent later, one could land after that owner's own
writes and stand as the key's latest value, older than them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP, EventT

log = logging.getLogger(__name__)


class Ownership:
    """Counts the partitions this worker lost, so that a batch can tell what it held throughout.

    A partition is lost when a new assignment leaves it out. (Faust's eager rebalances revoke every
    partition each time and assign most of them straight back: being revoked is not being lost.)
    """

    def __init__(self, app: faust.App, write_wait_s: float = 20.0) -> None:
        self.app = app
        self.assigned: frozenset[TP] = frozenset()
        self.losses: Counter[TP] = Counter()
        self.on_lost: list[Callable[[frozenset[TP]], None]] = []
        self.writes = 0  # state writes under way
        self.write_wait_s = write_wait_s  # the longest a revocation waits for them (a broker outage)
        app.on_partitions_assigned.connect(self._assigned)
        app.on_partitions_revoked.connect(self._revoked)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """A batch sending state to its changelogs, up to their delivery: a revocation waits for it."""
        self.writes += 1
        try:
            yield
        finally:
            self.writes -= 1

    async def _revoked(self, _sender: Any, /, *_revoked: Any, signal: Any, **_: Any) -> None:
        """Faust awaits this before the worker rejoins its group: the writes under way finish first."""
        waited, step = 0.0, 0.01
        while self.writes and waited < self.write_wait_s:
            await asyncio.sleep(step)
            waited += step
        if self.writes:
            log.warning("rebalance went on after %.0f s with %d state writes under way", waited, self.writes)

    async def _assigned(self, _sender: Any, /, *assigned: Iterable[TP], signal: Any, **_: Any) -> None:
        now = frozenset(tp for tps in assigned for tp in tps)  # the signal's one argument
        lost, self.assigned = self.assigned - now, now
        self.losses.update(lost)
        for callback in self.on_lost:
            callback(lost)

    async def begin(self) -> Tenure:
        """The partitions held once any rebalance under way has finished (its recovery done).

        A batch that began during one would otherwise hold nothing and withhold all its records,
        those fetched since the new assignment included: the consumer has read past them, so they
        would come again only when the commit-stall watch reads their partition again, a minute on.
        """
        while self.app.rebalancing:
            await asyncio.sleep(0.05)
        held = frozenset(self.app.consumer.assignment())
        losses = {tp: self.losses[tp] for tp in held}
        return Tenure(self, self.app.rebalancing_count, held, losses, self.app.consumer_generation_id)


@dataclass
class Tenure:
    """The partitions a batch began with."""

    ownership: Ownership
    generation: int
    held: frozenset[TP]
    losses: dict[TP, int]
    fetched_in: int  # the consumer's group generation when the batch began

    def current(self, event: EventT) -> bool:
        """Whether the batch may apply ``event``: its partition is held and it was fetched in this group
        generation. Each rebalance gives the consumer a fresh assignment, whose fetch positions start
        again from the group's commit, or from the log's start where the group never committed (tested
        on the broker: ``tests/integration/test_rebalance_reread.py``), so a record fetched before it
        comes again. Applied now, it could be applied ahead of records the rebalance made this worker
        drop and move a user's offset per source past them: read again, they would be taken for
        redeliveries and lost."""
        return self.holds(event.message.tp) and event.message.generation_id == self.fetched_in

    def holds(self, tp: TP) -> bool:
        """Whether ``tp`` was held when the batch began and has not been lost since."""
        return tp in self.held and self.ownership.losses[tp] == self.losses[tp]

    def writing(self) -> contextlib.AbstractAsyncContextManager[None]:
        """While the batch sends state to changelogs (:meth:`Ownership.writing`): check :attr:`steady`
        inside it, then write."""
        return self.ownership.writing()

    @property
    def steady(self) -> bool:
        """No rebalance began since the batch did: state read now is the state it began from."""
        app = self.ownership.app
        return not app.rebalancing and app.rebalancing_count == self.generation

    async def kept(self) -> frozenset[TP]:
        """Once any rebalance has finished (tables recovered): the partitions held all along.
        From then on, :attr:`steady` says whether another rebalance began since."""
        app = self.ownership.app
        while app.rebalancing:
            await asyncio.sleep(0.1)
        self.generation = app.rebalancing_count
        return frozenset(tp for tp in self.held if self.holds(tp))
