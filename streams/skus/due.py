"""When each SKU of a partition next has work behind the watermark, so that a batch whose watermark
moves visits those SKUs, not all of them: at 10⁴ SKUs, visiting every SKU of a partition (reading and
decoding its slot) at every batch cost more than everything else the per-SKU path does.

An SKU has work when an event in its inbox is behind the watermark or its open bucket has ended. The
times are kept in memory only, and only for partitions visited in full since this worker's last
rebalance: after a start or a rebalance (the tables may have been restored from their changelogs), a
partition's first watermark visits every SKU again, and learns their times from what it reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from streams.skus.state import SkuSlot


def next_work(slot: SkuSlot) -> float:
    """The earliest watermark at which ``slot`` has something to do (inf: nothing until an event)."""
    pending = min((event.time for event in slot.inbox.pending), default=math.inf)
    return min(pending, slot.state.closes_at)


class DueTimes:
    """Per partition, each SKU's :func:`next_work`; valid within one generation of rebalances."""

    def __init__(self) -> None:
        self.generation: int | None = None
        self._known: dict[int, dict[str, float]] = {}  # partition → sku → next work

    def begin(self, generation: int) -> None:
        """A batch of rebalance ``generation`` begins: times of an earlier one are forgotten."""
        if generation != self.generation:
            self._known.clear()
            self.generation = generation

    def forget(self) -> None:
        """A rebalance interrupted a batch: what it read may not be what the tables will hold."""
        self._known.clear()
        self.generation = None

    def due(self, partition: int, skus: Iterable[str], watermark: float) -> list[str]:
        """The SKUs to visit at ``watermark``, sorted: all of ``skus`` when the partition's times are
        not known (they are learnt from the visits, see :meth:`visited`)."""
        known = self._known.get(partition)
        if known is None:
            self._known[partition] = {}
            return sorted(skus)
        return sorted(sku for sku, at in known.items() if at <= watermark)

    def visited(self, partition: int, sku: str, slot: SkuSlot) -> None:
        """``sku`` was brought up to the watermark."""
        known = self._known.get(partition)
        if known is not None:
            known[sku] = next_work(slot)

    def received(self, partition: int, sku: str, event_time: float) -> None:
        """An event at ``event_time`` joined ``sku``'s inbox."""
        known = self._known.get(partition)
        if known is not None:
            known[sku] = min(known.get(sku, math.inf), event_time)
