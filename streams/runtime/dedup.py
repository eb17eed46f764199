"""Producer duplicates: the same event at two offsets (a producer that retried after a timeout).

A redelivery (the same offset read again after a crash) is caught by the offsets each slot keeps;
a *re-sent* event has a new offset and the same ``event_id`` (an order also the same ``order_id``).
Each slot remembers the ids it applied, with their event times, for a window of event time: an event
is a duplicate when an earlier one with one of its ids lies within the window of its own time. The
rule reads event times only, so whatever moment the memory is pruned at, the same events are dropped
in every run and in a replay.

A slot keeps each id as its 64-bit BLAKE2b digest, packed with the times into two byte strings: a
user active through the window holds hundreds of ids, and their strings were most of the slot's bytes
and of the time to read it back. Two distinct ids share a digest with a chance of 2⁻⁶⁴ per pair (about
10⁻¹⁷ for an event checked against 300 ids), the only way a new event could be taken for a copy.

>>> seen = RecentIds()
>>> seen.note(("e:1", "o:7"), 100.0)
>>> seen.duplicate(("e:2", "o:7"), 160.0, window_s=120), seen.duplicate(("e:1",), 400.0, window_s=120)
(True, False)
>>> seen.forget_before(200.0); seen.ids
{}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams import metrics
from streams.runtime.codec import binary


def event_ids(record: object) -> tuple[str, ...]:
    """The ids that make an input event unique: ``e:<event_id>``, and ``o:<order_id>`` for orders."""
    ids = [f"e:{event_id}"] if (event_id := getattr(record, "event_id", None)) else []
    if order_id := getattr(record, "order_id", None):
        ids.append(f"o:{order_id}")
    return tuple(ids)


def header_ids(headers: Mapping[str, bytes]) -> tuple[str, ...]:
    """The ids the forwarder put in a forwarded event's ``ids`` header (none from older workers)."""
    raw = headers.get("ids")
    return tuple(json.loads(raw)) if raw else ()


def digest(event_id: str) -> int:
    """The 64-bit digest a slot keeps of an id."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


@dataclass
class RecentIds:
    """Ids applied lately (by :func:`digest`), each with the event time of the last event applied that
    carried it."""

    ids: dict[int, float] = field(default_factory=dict)

    @classmethod
    def of(cls, ids: Mapping[str, float]) -> RecentIds:
        """The memory of ``ids`` given as strings (slots written before digests were kept)."""
        return cls({digest(i): t for i, t in ids.items()})

    def duplicate(self, ids: Iterable[str], t: float, window_s: float) -> bool:
        """Whether an event at ``t`` carrying ``ids`` repeats one applied within ``window_s`` of it."""
        return any(abs(t - self.ids[d]) <= window_s for d in map(digest, ids) if d in self.ids)

    def note(self, ids: Iterable[str], t: float) -> None:
        """Remember the ids of an event applied at ``t`` (not a duplicate: any earlier time of these ids
        lies outside the window, and keeping it would make the answer depend on when it is pruned)."""
        for d in map(digest, ids):
            self.ids[d] = t

    def forget_before(self, t: float) -> None:
        """Drop ids of events before ``t``: safe once nothing older than ``t + window`` can come."""
        if any(seen < t for seen in self.ids.values()):
            self.ids = {i: seen for i, seen in self.ids.items() if seen >= t}

    def to_plain(self) -> dict[str, bytes]:
        """Digests and times as little-endian uint64 and float64 bytes, in the same order."""
        n = len(self.ids)
        return {
            "digests": np.fromiter(self.ids, dtype="<u8", count=n).tobytes(),
            "times": np.fromiter(self.ids.values(), dtype="<f8", count=n).tobytes(),
        }

    @classmethod
    def from_plain(cls, body: Any) -> RecentIds:
        """The memory of a :meth:`to_plain` body; ValueError when it is not one."""
        digests = np.frombuffer(binary(body["digests"]), dtype="<u8")
        times = np.frombuffer(binary(body["times"]), dtype="<f8")
        if digests.shape != times.shape:
            raise ValueError(f"{digests.size} id digests with {times.size} times")
        return cls(dict(zip(digests.tolist(), times.tolist(), strict=True)))


def count_duplicate(agent: str, topic: str) -> None:
    metrics.DUPLICATES.labels(agent=agent, topic=topic).inc()
