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
from typing import NamedTuple

KIND_RANK = {"catalog": 0, "stock": 1, "order": 2}  # same-time ties: know the item before selling it


class Pending(NamedTuple):
    """An event waiting in an inbox; sorting by the fields in order is the order of application."""

    time: float  # event time (epoch s)
    rank: int  # KIND_RANK of its kind: at the same time, the catalog before stock before orders
    source: str  # its source partition, ``orders/3``
    offset: int  # its offset there
    value: bytes  # the event's JSON, as it came
    key: bytes | None  # its original key (a dead letter carries it)


@dataclass
class SourceMark:
    time: float
    idle: bool = False


@dataclass
class SourceTimes:
    """The latest event time received per source. A source's events arrive in its own order, so a
    good event is at most slightly behind its source's latest; one far behind cannot be true.

    >>> times = SourceTimes()
    >>> times.saw("orders/0", 100.0)
    >>> times.behind("orders/0", 97.0), times.behind("orders/0", 120.0), times.behind("stock/0", 1.0)
    (3.0, 0.0, 0.0)
    """

    latest: dict[str, float] = field(default_factory=dict)

    def behind(self, source: str, time: float) -> float:
        """How far (s) an event of ``source`` at ``time`` is behind that source's latest."""
        return max(self.latest.get(source, time) - time, 0.0)

    def saw(self, source: str, time: float) -> None:
        """Record an event of ``source`` at ``time`` (first copies only)."""
        self.latest[source] = max(self.latest.get(source, time), time)


@dataclass
class PartitionClock:
    """Watermark of one partition of the per-SKU topic, from the marks of its sources."""

    expected: tuple[str, ...]
    lateness_s: float = 0.0
    marks: dict[str, SourceMark] = field(default_factory=dict)
    current: float | None = None
    skus: set[str] = field(default_factory=set)
    position: int = -1  # offset of the last per-SKU-topic record this state has applied (-1: none)
    received: SourceTimes = field(default_factory=SourceTimes)  # of the events, not the marks

    def place(self, offset: int) -> str:
        """Where the record at ``offset`` stands: ``"applied"`` already, ``"next"``, or ``"gap"``.

        State and input must advance together: a record at or before :attr:`position` is already in
        the state (it is read again after a rebalance or restart); one beyond the next means the
        stream got ahead of the state, and must be read again from ``position + 1``. A fresh state has
        applied nothing: if its stream begins later (batches were read, and their offsets committed,
        but a rebalance or crash kept their state from being stored), it reads from the start.

        >>> clock = PartitionClock(expected=())
        >>> [clock.place(o) for o in (0, 7)]
        ['next', 'gap']
        >>> clock.position = 7
        >>> [clock.place(o) for o in (6, 7, 8, 9)]
        ['applied', 'applied', 'next', 'gap']
        """
        if offset == self.position + 1:
            return "next"
        return "applied" if offset <= self.position else "gap"

    def mark(self, source: str, time: float, idle: bool = False) -> None:
        """Record that ``source`` reached ``time`` (a source's own time never moves back)."""
        previous = self.marks.get(source)
        best = max(time, previous.time) if previous else time
        self.marks[source] = SourceMark(best, idle)

    def behind(self, source: str, time: float) -> float:
        """How far (s) an event of ``source`` at ``time`` is behind what that source already reached:
        its latest event received here, or its latest mark (which covers every partition).

        >>> clock = PartitionClock(expected=("orders/0",))
        >>> clock.mark("orders/0", 100.0)
        >>> clock.behind("orders/0", 90.0), clock.behind("orders/0", 101.0)
        (10.0, 0.0)
        """
        mark = self.marks.get(source)
        return max(self.received.behind(source, time), mark.time - time if mark else 0.0)

    def all_idle(self) -> bool:
        """Whether every source has been marked idle: all it holds so far has reached this partition.

        >>> clock = PartitionClock(expected=("orders/0", "stock/0"))
        >>> clock.mark("orders/0", 100.0, idle=True)
        >>> clock.all_idle()
        False
        >>> clock.mark("stock/0", 90.0, idle=True)
        >>> clock.all_idle()
        True
        """
        return all(s in self.marks and self.marks[s].idle for s in self.expected)

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

    def is_new(self, source: str, offset: int) -> bool:
        """Whether the event at ``offset`` of ``source`` was never received before."""
        return offset > self.received.get(source, -1)

    def accept(
        self, source: str, offset: int, event_time: float, kind: str, value: bytes, key: bytes | None = None
    ) -> bool:
        """Queue an event unless it is a redelivery; True when queued."""
        if not self.is_new(source, offset):
            return False
        self.received[source] = offset
        self.pending.append(Pending(event_time, KIND_RANK[kind], source, offset, value, key))
        return True

    def refuse(self, source: str, offset: int) -> None:
        """Note an event as received without queueing it (it was dead-lettered)."""
        self.received[source] = max(offset, self.received.get(source, -1))

    def due(self, watermark: float) -> list[Pending]:
        """Remove and return, in a deterministic order, the events before ``watermark``."""
        ready = sorted(e for e in self.pending if e.time < watermark)
        self.pending = [e for e in self.pending if e.time >= watermark]
        return ready
