"""What the user path keeps in its table, and the explicit encoding of each value (no pickle).

``users`` holds one :class:`UserSlot` per user: the vector (raw float32 bytes), when they were last
recommended to, what was received per source (offsets, event times, recent ids), and the user's own
recent interactions and purchases (what a recommendation's reason names, and what it leaves out).

Versions: 1 without interactions and purchases (read as none), 2 with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from models.recommend.embeddings import UserVector
from streams.runtime.clock import SourceTimes
from streams.runtime.codec import (
    StateCodec,
    float32_bytes,
    float32_vector,
    integer,
    number,
    optional_number,
    str_map,
    text,
)
from streams.runtime.dedup import RecentIds

TOUCHED_MAX = 10  # interactions kept per user: the reasons' signals and the "seen lately" set
BOUGHT_MAX = 50  # purchases kept per user: never recommended again


class Touch(NamedTuple):
    """One interaction of the user: ``what`` is the SKU, or the query of a search."""

    what: str
    action: str  # view, click, add_to_cart, order or search
    ts: float


@dataclass
class UserSlot:
    """A user's vector, when they were last recommended to, and the last offset and event time seen
    per source."""

    vector: UserVector
    recommended_at: float | None = None
    received: dict[str, int] = field(default_factory=dict)
    times: SourceTimes = field(default_factory=SourceTimes)  # latest event time per source
    seen: RecentIds = field(default_factory=RecentIds)  # ids applied lately: re-sent copies are dropped
    touched: list[Touch] = field(default_factory=list)  # the latest TOUCHED_MAX, oldest first
    bought: list[str] = field(default_factory=list)  # SKUs, the latest BOUGHT_MAX

    def touch(self, what: str, action: str, ts: float) -> None:
        """Note an interaction (the latest per ``what`` and action); an order also notes a purchase.

        >>> slot = UserSlot(None)  # type: ignore[arg-type]
        >>> for i, (sku, action) in enumerate([("a", "view"), ("b", "view"), ("a", "view"), ("b", "order")]):
        ...     slot.touch(sku, action, float(i))
        >>> [(t.what, t.action) for t in slot.touched], slot.bought
        ([('b', 'view'), ('a', 'view'), ('b', 'order')], ['b'])
        """
        kept = [t for t in self.touched if (t.what, t.action) != (what, action)]
        self.touched = [*kept, Touch(what, action, ts)][-TOUCHED_MAX:]
        if action == "order" and what not in self.bought:
            self.bought = [*self.bought, what][-BOUGHT_MAX:]

    def accept(self, source: str, offset: int) -> bool:
        if offset <= self.received.get(source, -1):
            return False  # redelivered after a crash: already in the vector
        self.received[source] = offset
        return True

    def forget_old_ids(self, window_s: float, lateness_s: float) -> None:
        """Drop ids that no event still to be accepted can repeat (any source's, older than its
        latest event by more than the lateness, is refused as late)."""
        if self.times.latest:
            self.seen.forget_before(min(self.times.latest.values()) - lateness_s - window_s)


def slot_to_plain(slot: UserSlot) -> dict[str, Any]:
    vector = slot.vector
    return {
        "mean": float32_bytes(vector.mean),
        "weight": vector.weight,
        "ts": vector.ts,
        "half_life_s": vector.half_life_s,
        "recommended_at": slot.recommended_at,
        "received": slot.received,
        "latest": slot.times.latest,
        "seen": slot.seen.ids,
        "touched": [list(t) for t in slot.touched],
        "bought": slot.bought,
    }


def slot_from_plain(body: dict[str, Any]) -> UserSlot:
    vector = UserVector(
        float32_vector(body["mean"]),
        number(body["weight"]),
        optional_number(body["ts"]),
        number(body["half_life_s"]),
    )
    return UserSlot(
        vector,
        optional_number(body["recommended_at"]),
        str_map(body["received"], integer),
        SourceTimes(str_map(body["latest"], number)),
        RecentIds(str_map(body["seen"], number)),
        [Touch(text(what), text(action), number(ts)) for what, action, ts in body["touched"]],
        [text(sku) for sku in body["bought"]],
    )


def slot_from_plain_v1(body: dict[str, Any]) -> UserSlot:
    """A slot written before interactions and purchases were kept: none of either."""
    return slot_from_plain({**body, "touched": [], "bought": []})


USER_SLOTS = StateCodec("user-slot", 2, slot_to_plain, slot_from_plain, older={1: slot_from_plain_v1})
