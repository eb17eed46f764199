"""Re-key per-SKU inputs onto the internal ``sku-events`` topic, followed by event-time marks.

Forwarded events keep their original bytes; headers say what they are and where they came from,
so the per-SKU agent can drop duplicates (a source offset it has already received) and order
events deterministically. Marks (see :mod:`streams.clock`) go to every partition after the events
they vouch for; a timer marks caught-up source partitions idle so the watermark never stalls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import faust
from faust.types import TP, EventT

from streams import metrics

MARK = "mark"


def source_name(topic: str, partition: int, prefix: str = "") -> str:
    """``orders/3`` for partition 3 of ``<prefix>.orders``."""
    base = topic[len(prefix) + 1 :] if prefix and topic.startswith(prefix + ".") else topic
    return f"{base}/{partition}"


@dataclass
class SourceProgress:
    offset: int = -1
    time: float = 0.0
    marked: float | None = None
    idle_marked: bool = False


@dataclass
class Forwarder:
    """Forwards events of one agent's source topic and marks its progress."""

    target: faust.TopicT
    partitions: int
    prefix: str = ""
    mark_every_s: float = 1.0
    progress: dict[TP, SourceProgress] = field(default_factory=dict)

    async def forward(self, event: EventT, kind: str, sku: str, event_time: float) -> None:
        """Send ``event``'s bytes to the partition of ``sku``."""
        message = event.message
        await self.target.send(
            key=sku.encode(),
            value=message.value,
            timestamp=event_time,
            headers=[
                ("kind", kind.encode()),
                ("source", source_name(message.topic, message.partition, self.prefix).encode()),
                ("source_offset", str(message.offset).encode()),
                ("event_time", repr(event_time).encode()),
            ],
        )
        metrics.EVENTS_OUT.labels(topic=self.target.get_topic_name()).inc()

    def seen(self, event: EventT, event_time: float | None) -> None:
        """Note that ``event`` was processed (valid or not) at ``event_time``."""
        message = event.message
        state = self.progress.setdefault(message.tp, SourceProgress())
        state.offset = max(state.offset, message.offset)
        state.idle_marked = False
        if event_time is not None:
            state.time = max(state.time, event_time)

    async def mark_progress(self) -> None:
        """After a batch: mark sources whose event time moved on by ``mark_every_s``."""
        for tp, state in self.progress.items():
            if state.marked is None or state.time - state.marked >= self.mark_every_s:
                await self._mark(tp, state, idle=False)

    async def mark_idle(self, app: faust.App, topic: str) -> None:
        """Mark this worker's caught-up partitions of ``topic`` idle (called by a timer).

        Caught up = everything below the consumer's last known high watermark was processed.
        """
        for tp in app.consumer.assignment():
            if tp.topic != topic:
                continue
            state = self.progress.setdefault(tp, SourceProgress())
            highwater = app.consumer.highwater(tp)
            if highwater is not None and state.offset + 1 >= highwater and not state.idle_marked:
                await self._mark(tp, state, idle=True)
                state.idle_marked = True

    async def _mark(self, tp: TP, state: SourceProgress, idle: bool) -> None:
        value = json.dumps(
            {"source": source_name(tp.topic, tp.partition, self.prefix), "time": state.time, "idle": idle}
        ).encode()
        for partition in range(self.partitions):
            await self.target.send(value=value, partition=partition, headers=[("kind", MARK.encode())])
        state.marked = state.time
