"""Producer duplicates: the same event at two offsets (a producer that retried after a timeout).

A redelivery (the same offset read again after a crash) is caught by the offsets each slot keeps;
a *re-sent* event has a new offset and the same ``event_id`` (an order also the same ``order_id``).
Each slot remembers the ids it applied, with their event times, for a window of event time: an event
is a duplicate when an earlier one with one of its ids lies within the window of its own time. The
rule reads event times only, so whatever moment the memory is pruned at, the same events are dropped
in every run and in a replay.

>>> seen = RecentIds()
>>> seen.note(("e:1", "o:7"), 100.0)
>>> seen.duplicate(("e:2", "o:7"), 160.0, window_s=120), seen.duplicate(("e:1",), 400.0, window_s=120)
(True, False)
>>> seen.forget_before(200.0); seen.ids
{}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams import metrics


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


@dataclass
class RecentIds:
    """Ids applied lately, each with the event time of the last event applied that carried it."""

    ids: dict[str, float] = field(default_factory=dict)

    def duplicate(self, ids: Iterable[str], t: float, window_s: float) -> bool:
        """Whether an event at ``t`` carrying ``ids`` repeats one applied within ``window_s`` of it."""
        return any(abs(t - self.ids[i]) <= window_s for i in ids if i in self.ids)

    def note(self, ids: Iterable[str], t: float) -> None:
        """Remember the ids of an event applied at ``t`` (not a duplicate: any earlier time of these ids
        lies outside the window, and keeping it would make the answer depend on when it is pruned)."""
        for i in ids:
            self.ids[i] = t

    def forget_before(self, t: float) -> None:
        """Drop ids of events before ``t``: safe once nothing older than ``t + window`` can come."""
        if any(seen < t for seen in self.ids.values()):
            self.ids = {i: seen for i, seen in self.ids.items() if seen >= t}


def count_duplicate(agent: str, topic: str) -> None:
    metrics.DUPLICATES.labels(agent=agent, topic=topic).inc()
