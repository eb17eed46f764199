"""What the user path keeps in its table, and the explicit encoding of each value (no pickle).

``users`` holds one :class:`UserSlot` per user: the vector (raw float32 bytes), when they were last
recommended to, and what was received per source (offsets, event times, recent ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
)
from streams.runtime.dedup import RecentIds


@dataclass
class UserSlot:
    """A user's vector, when they were last recommended to, and the last offset and event time seen
    per source."""

    vector: UserVector
    recommended_at: float | None = None
    received: dict[str, int] = field(default_factory=dict)
    times: SourceTimes = field(default_factory=SourceTimes)  # latest event time per source
    seen: RecentIds = field(default_factory=RecentIds)  # ids applied lately: re-sent copies are dropped

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
    )


USER_SLOTS = StateCodec("user-slot", 1, slot_to_plain, slot_from_plain)
