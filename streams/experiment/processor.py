"""The experiment agent's logic, one batch of ``experiment-events`` at a time, every dependency passed in.

Each partition of ``experiment-events`` holds whole campaigns (outcomes are keyed by campaign) and the
marks of every ``sku-events`` partition (:mod:`.wire`). Outcomes wait in their campaign's
:class:`~models.experiment.tally.CampaignTally`; once every SKU partition has marked a time, the
campaigns of the partition close their buckets up to it and publish an estimate after each campaign
bucket to ``experiment-results``, with an id from (campaign, bucket end). As on the SKU path, the
partition's clock records the last offset applied: what is read again is skipped, and a stretch the
stream got ahead of the restored state is read directly. Outputs, then campaigns, then clocks are
stored, each once the one before is: a crash re-runs work, never loses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from models.experiment.tally import CampaignTally, Estimate
from models.ids import decision_id, from_epoch
from streams import metrics
from streams.contracts.records import ExperimentResult
from streams.contracts.topics import Topics
from streams.experiment.state import ExperimentClock
from streams.experiment.wire import MARK, OUTCOME, mark_of, outcome_of
from streams.runtime.catchup import ReadRange, with_gap
from streams.runtime.deadletters import Origin, send_dead_value
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import StateTable, load, put
from streams.runtime.tenure import Tenure
from streams.settings import Settings
from streams.skus.forwarded import headers_of

log = logging.getLogger(__name__)
Campaigns = dict[str, CampaignTally]  # campaign → tally changed this batch, of one partition


def result_fields(estimate: Estimate) -> dict[str, Any]:
    """An estimate as an ``experiment-results`` record's fields, with its reason."""
    out: dict[str, Any] = {
        "event_id": decision_id("experiment", estimate.campaign_id, from_epoch(estimate.ts)),
        "campaign_id": estimate.campaign_id,
        "ts": from_epoch(estimate.ts),
        "minutes": estimate.minutes,
        "n_treatment": estimate.n_treatment,
        "n_control": estimate.n_control,
        "level": estimate.revenue.level,
    }
    for metric in ("revenue", "units"):
        u = getattr(estimate, metric)
        out |= {f"{metric}_{name}": getattr(u, name) for name in UPLIFT_FIELDS}
    return out | {"reason": reason(estimate)}


UPLIFT_FIELDS = ("treatment", "baseline", "control", "uplift", "se", "lo", "hi", "df", "covariates")


def reason(estimate: Estimate) -> str:
    """What the estimate says, in words.

    >>> from models.experiment.uplift import Uplift
    >>> u = Uplift(12.0, 9.5, 8.0, 2.5, 1.0, 30.0, 0.46, 4.54, 0.95, 2)
    >>> print(reason(Estimate("c1", 0.0, 15.0, 20, 18, u, u)))
    over 15 campaign minutes, 20 adaptive SKUs earned 2.5 more revenue per SKU-minute than the static \
policy would have (95% CI 0.46 to 4.54; 18 held-out SKUs, adjusted for 2 covariates) and sold 2.5 more \
units (0.46 to 4.54)
    """
    r, u, n = estimate.revenue, estimate.units, estimate.n_treatment
    return (
        f"over {estimate.minutes:g} campaign minutes, {n} adaptive SKUs earned {r.uplift:.3g} more revenue "
        f"per SKU-minute than the static policy would have ({r.level:.0%} CI {r.lo:.3g} to {r.hi:.3g}; "
        f"{estimate.n_control} held-out SKUs, adjusted for {r.covariates} covariates) and sold "
        f"{u.uplift:.3g} more units ({u.lo:.3g} to {u.hi:.3g})"
    )


class ExperimentProcessor:
    """Applies batches of ``experiment-events``: clocks, campaign tallies, estimates and state."""

    def __init__(
        self,
        settings: Settings,
        topics: Topics,
        campaigns: StateTable[CampaignTally],
        clocks: StateTable[ExperimentClock],
        new_outbox: Callable[[], Outbox],
        read_range: ReadRange,
    ) -> None:
        self.settings, self.topics = settings, topics
        self.campaigns, self.clocks = campaigns, clocks
        self.new_outbox, self.read_range = new_outbox, read_range

    async def process(self, events: Sequence[Any], tenure: Tenure) -> None:
        """One batch: take each record in order, close what the partitions' marks close, then store."""
        outbox = self.new_outbox()
        clocks: dict[int, ExperimentClock] = {}
        batch: dict[int, Campaigns] = {}
        for event in events:
            if not tenure.holds(event.message.tp) or not tenure.steady:
                continue
            partition = event.message.partition
            clock = clocks.get(partition) or self.clock(partition)
            clocks[partition] = clock
            for message in await with_gap(event.message, clock, self.read_range, self.settings):
                if not tenure.steady:
                    break
                await self.take_safely(message, clock, batch.setdefault(partition, {}), outbox)
        for partition, clock in clocks.items():
            watermark = clock.watermark()
            if watermark is not None and tenure.steady:
                await self.close(partition, clock, batch.setdefault(partition, {}), watermark, outbox)
        await self.store(batch, clocks, outbox, tenure)

    def clock(self, partition: int) -> ExperimentClock:
        stored = load(self.clocks, f"p{partition}", partition)
        return stored or ExperimentClock.of(self.settings.topic_partitions)

    def tally(self, campaign_id: str, partition: int, here: Campaigns) -> CampaignTally:
        """The batch's tally of ``campaign_id``: taken this batch, stored, or new."""
        current = here.get(campaign_id) or load(self.campaigns, campaign_id, partition)
        return current or CampaignTally(campaign_id, 60 * self.settings.bucket_minutes,
                                        self.settings.holdout_pre_minutes)  # fmt: skip

    async def take_safely(
        self, message: Any, clock: ExperimentClock, here: Campaigns, outbox: Outbox
    ) -> None:
        """Apply one record unless the state holds it already; one that is not what the per-SKU agent
        writes becomes a dead letter."""
        if clock.place(message.offset) != "next":
            return
        clock.position = message.offset
        try:
            kind = headers_of(message).get("kind", b"").decode()
            if kind == MARK:
                clock.mark(*mark_of(message.value or b""))
            elif kind == OUTCOME:
                outcome = outcome_of(message.value or b"")
                tally = self.tally(outcome.campaign_id, message.partition, here)
                if tally.observe(outcome):
                    here[outcome.campaign_id] = tally  # changed: written back at the end of the batch
                clock.campaigns.add(outcome.campaign_id)
            else:
                raise ValueError(f"not an experiment event: kind={kind!r}")
        except Exception as exc:  # only a foreign writer could put such a record here
            await send_dead_value(self.topics.dead_letters, Origin.of(message), message.value, exc, outbox)

    async def close(
        self, partition: int, clock: ExperimentClock, here: Campaigns, watermark: float, outbox: Outbox
    ) -> None:
        """Close every campaign of the partition up to ``watermark``; publish the estimates."""
        for campaign_id in sorted(clock.campaigns):
            tally = self.tally(campaign_id, partition, here)
            if tally.closed_until is not None and watermark <= tally.closed_until:
                continue
            here[campaign_id] = tally
            for estimate in tally.close(watermark):
                record = ExperimentResult(**result_fields(estimate))
                await outbox.send(self.topics.experiment_results, key=campaign_id, value=record,
                                  timestamp=estimate.ts)  # fmt: skip
                metrics.EVENTS_OUT.labels(topic=self.topics.experiment_results.get_topic_name()).inc()

    async def store(
        self, batch: dict[int, Campaigns], clocks: dict[int, ExperimentClock], outbox: Outbox, tenure: Tenure
    ) -> None:
        """Outputs, then campaigns, then clocks, each stored before the next is written."""
        await outbox.settle()
        async with tenure.writing():
            if not tenure.steady:
                return  # store nothing: the clocks stay behind, and the input is read again
            for partition, here in batch.items():
                for campaign_id, tally in here.items():
                    await put(self.campaigns, partition, campaign_id, tally, outbox)
            await outbox.settle(keep_state=lambda: tenure.steady)
            if not tenure.steady:
                return
            for partition, clock in clocks.items():
                await put(self.clocks, partition, f"p{partition}", clock, outbox)
            await outbox.settle(keep_state=lambda: tenure.steady)
