"""Event-time watermarks for the per-SKU stream.

Orders, stock and catalog events reach the per-SKU agent through one internal topic, forwarded
from many source partitions. Each forwarder sends a *mark* after its events: "source S has reached
event time T" (or "S is idle": caught up, nothing more to read). A partition's watermark is the
minimum over all expected sources, less the allowed lateness, and never moves back. Buckets close
only behind the watermark, so decisions do not depend on how the sources happened to interleave.

>>> clock = PartitionClock(expected=("orders/0", "stock/0"), lateness_s=0)
>>> clock.mark("orders/0", 100.0)
>>> clock.watermark() is None  # stock/0 has not been heard from yet
True
>>> clock.mark("stock/0", 90.0)
>>> clock.watermark()
90.0
>>> clock.mark("stock/0", 120.0, idle=True)  # idle sources no longer hold the watermark back
>>> clock.watermark()
100.0
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

KIND_RANK = {"catalog": 0, "stock": 1, "order": 2}  # same-time ties: know the item before selling it
Pending = tuple[float, int, str, int, bytes]  # (event time, kind rank, source, offset, value)


@dataclass
class SourceMark:
    time: float
    idle: bool = False


@dataclass
class PartitionClock:
    """Watermark of one partition of the per-SKU topic, from the marks of its sources."""

    expected: tuple[str, ...]
    lateness_s: float = 0.0
    marks: dict[str, SourceMark] = field(default_factory=dict)
    current: float | None = None
    skus: set[str] = field(default_factory=set)

    def mark(self, source: str, time: float, idle: bool = False) -> None:
        """Record that ``source`` reached ``time`` (a source's own time never moves back)."""
        previous = self.marks.get(source)
        best = max(time, previous.time) if previous else time
        self.marks[source] = SourceMark(best, idle)

    def watermark(self) -> float | None:
        """Event time (epoch s) before which no more events are expected; None until all sources spoke."""
        if any(s not in self.marks for s in self.expected):
            return None
        marks = [self.marks[s] for s in self.expected]
        active = [m.time for m in marks if not m.idle]
        candidate = (min(active) if active else max(m.time for m in marks)) - self.lateness_s
        if self.current is None or candidate > self.current:
            self.current = candidate
        return self.current


def expected_sources(topics: Iterable[str], partitions: int) -> tuple[str, ...]:
    """Names of every source partition that feeds the per-SKU topic.

    >>> expected_sources(["orders", "stock"], 2)
    ('orders/0', 'orders/1', 'stock/0', 'stock/1')
    """
    return tuple(f"{t}/{p}" for t in topics for p in range(partitions))


@dataclass
class Inbox:
    """Events of one SKU waiting for the watermark, and the last offset received per source."""

    pending: list[Pending] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=dict)

    def accept(self, source: str, offset: int, event_time: float, kind: str, value: bytes) -> bool:
        """Queue an event unless it is a redelivery; True when queued."""
        if offset <= self.received.get(source, -1):
            return False
        self.received[source] = offset
        self.pending.append((event_time, KIND_RANK[kind], source, offset, value))
        return True

    def due(self, watermark: float) -> list[Pending]:
        """Remove and return, in a deterministic order, the events before ``watermark``."""
        ready = sorted(e for e in self.pending if e[0] < watermark)
        self.pending = [e for e in self.pending if e[0] >= watermark]
        return ready
