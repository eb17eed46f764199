"""The sends of one batch, settled (stored by the broker) before the batch is acknowledged.

Faust commits acknowledged input offsets on a timer and does not wait for the producer's own
queue, so a worker killed right after a commit would lose records it had only queued. Every agent
therefore collects the deliveries of what a batch sends and settles them before it takes the next
batch. An agent that also writes table state settles its outputs *first*: state then never records
work whose outputs the broker may not have, and a crash in between only makes the batch run again,
re-sending the same records under the same deterministic ids (at-least-once, deduplicated downstream).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import faust


class Outbox:
    """Deliveries not yet confirmed by the broker."""

    def __init__(self) -> None:
        self._pending: list[Awaitable[Any]] = []

    async def send(self, topic: faust.TopicT, **kwargs: Any) -> None:
        """``topic.send(**kwargs)``, its delivery kept for :meth:`settle`."""
        self.add(await topic.send(**kwargs))

    def add(self, delivery: Awaitable[Any]) -> None:
        self._pending.append(delivery)

    def __len__(self) -> int:
        return len(self._pending)

    async def settle(self) -> None:
        """Wait until the broker has stored everything sent so far (raises if a send failed)."""
        pending, self._pending = self._pending, []
        await asyncio.gather(*pending)
