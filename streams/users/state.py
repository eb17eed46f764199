"""What the user path keeps in its table, and the explicit encoding of each value (no pickle).

``users`` holds one :class:`UserSlot` per user: the user's profile
(:class:`models.recommend.profile.UserProfile`: the vector as raw float32 bytes, their recent
interactions and purchases, which a reason names and a list leaves out, and their visits per
category), when they were last recommended to, and what was received per source (offsets, event
times, recent ids).

Versions: 1 without interactions and purchases (read as none), 2 with them, 3 with visits per
category (read as none from 1 and 2), 4 with the recent ids as digests (earlier ones kept them as
strings: read and digested).

``user-positions`` holds, per input partition (``clicks/3``), the offset of its last record the users'
state has applied: the state and the stream advance together (see
:meth:`streams.users.processor.UserProcessor.process`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.recommend.embeddings import UserVector
from models.recommend.profile import Touch, UserProfile
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


@dataclass
class UserSlot(UserProfile):
    """A user's profile, when they were last recommended to, and the last offset and event time seen
    per source."""

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
        "seen": slot.seen.to_plain(),
        "touched": [list(t) for t in slot.touched],
        "bought": slot.bought,
        "taste": slot.taste,
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
        touched=[Touch(text(what), text(action), number(ts)) for what, action, ts in body["touched"]],
        bought=[text(sku) for sku in body["bought"]],
        taste=str_map(body["taste"], number),
        recommended_at=optional_number(body["recommended_at"]),
        received=str_map(body["received"], integer),
        times=SourceTimes(str_map(body["latest"], number)),
        seen=RecentIds.from_plain(body["seen"]),
    )


def slot_from_plain_v3(body: dict[str, Any]) -> UserSlot:
    """A slot written while recent ids were kept as strings: their digests."""
    return slot_from_plain({**body, "seen": RecentIds.of(str_map(body["seen"], number)).to_plain()})


def slot_from_plain_v2(body: dict[str, Any]) -> UserSlot:
    """A slot written before visits per category were kept: none."""
    return slot_from_plain_v3({**body, "taste": {}})


def slot_from_plain_v1(body: dict[str, Any]) -> UserSlot:
    """A slot written before interactions and purchases were kept: none of either."""
    return slot_from_plain_v2({**body, "touched": [], "bought": []})


USER_SLOTS = StateCodec(
    "user-slot", 4, slot_to_plain, slot_from_plain,
    older={1: slot_from_plain_v1, 2: slot_from_plain_v2, 3: slot_from_plain_v3},
)  # fmt: skip


USER_POSITIONS = StateCodec("user-position", 1, lambda offset: offset, integer)
