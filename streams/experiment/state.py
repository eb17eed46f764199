"""What the experiment stage keeps in its tables, and the explicit encoding of each value (no pickle).

``experiment-campaigns`` holds one :class:`~models.experiment.tally.CampaignTally` per campaign;
``experiment-clocks`` one :class:`ExperimentClock` per partition of ``experiment-events``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.experiment.tally import CampaignTally
from models.policy.control import ARMS
from streams.experiment.wire import source_name
from streams.runtime.codec import StateCodec, integer, number, optional_number, str_map, text


@dataclass
class ExperimentClock:
    """How far every ``sku-events`` partition has closed its buckets (its marks), the campaigns this
    partition holds, and the offset of the last record applied (see
    :meth:`streams.runtime.clock.PartitionClock.place`).

    >>> clock = ExperimentClock.of(2)
    >>> clock.mark("skus/0", 120.0)
    >>> clock.watermark() is None  # skus/1 has not closed anything yet
    True
    >>> clock.mark("skus/1", 60.0); clock.mark("skus/1", 30.0)  # a mark never moves back
    >>> clock.watermark()
    60.0
    """

    expected: tuple[str, ...]
    marks: dict[str, float] = field(default_factory=dict)
    campaigns: set[str] = field(default_factory=set)
    position: int = -1

    @classmethod
    def of(cls, partitions: int) -> ExperimentClock:
        return cls(tuple(source_name(p) for p in range(partitions)))

    def place(self, offset: int) -> str:
        """``"applied"`` already, ``"next"``, or ``"gap"`` (the stream is ahead of this state)."""
        if offset == self.position + 1:
            return "next"
        return "applied" if offset <= self.position else "gap"

    def mark(self, source: str, time: float) -> None:
        self.marks[source] = max(time, self.marks.get(source, time))

    def watermark(self) -> float | None:
        """Every bucket ending by then is closed everywhere; None until every source has marked."""
        if any(s not in self.marks for s in self.expected):
            return None
        return min(self.marks[s] for s in self.expected)


def clock_to_plain(clock: ExperimentClock) -> dict[str, Any]:
    return {"expected": list(clock.expected), "marks": clock.marks, "campaigns": sorted(clock.campaigns),
            "position": clock.position}  # fmt: skip


def clock_from_plain(body: dict[str, Any]) -> ExperimentClock:
    return ExperimentClock(
        tuple(text(s) for s in body["expected"]), str_map(body["marks"], number),
        {text(c) for c in body["campaigns"]}, integer(body["position"]),
    )  # fmt: skip


def sku_tally(values: Any) -> list[Any]:
    """A SKU's plain sums (:class:`~models.experiment.tally.SkuTally` field order)."""
    if not isinstance(values, list) or len(values) != 9 or values[0] not in ARMS:
        raise ValueError("not a SKU tally")
    return [values[0], optional_number(values[1]), optional_number(values[2]), *map(number, values[3:])]


def pending_outcome(values: Any) -> list[Any]:
    """A waiting outcome's plain values (:class:`~models.policy.control.BucketOutcome` field order)."""
    if not isinstance(values, list) or len(values) != 10 or values[4] not in ARMS:
        raise ValueError("not a pending outcome")
    campaign, starts, ends, sku, arm, bucket, units, revenue, stock, price = values
    return [text(campaign), number(starts), number(ends), text(sku), arm, number(bucket), number(units),
            number(revenue), None if stock is None else integer(stock), optional_number(price)]  # fmt: skip


def tally_from_plain(body: dict[str, Any]) -> CampaignTally:
    """Checked field by field: a changelog value that is not a tally is refused, never half read."""
    skus = str_map(body["skus"], sku_tally)
    return CampaignTally.from_state(
        {**body, "skus": skus, "pending": [pending_outcome(o) for o in body["pending"]]}
    )


EXPERIMENT_CAMPAIGNS = StateCodec("experiment-campaign", 1, CampaignTally.to_state, tally_from_plain)
EXPERIMENT_CLOCKS = StateCodec("experiment-clock", 1, clock_to_plain, clock_from_plain)
