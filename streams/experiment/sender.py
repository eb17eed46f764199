"""The per-SKU agent's side of the experiment: it hands each held-out campaign SKU's closed buckets to
``experiment-events`` and marks how far its partition has closed them (see :mod:`.wire`)."""

from __future__ import annotations

from models.experiment.tally import take_outcomes
from models.policy.sku_state import SkuState
from streams import metrics
from streams.contracts.topics import Topics
from streams.experiment.wire import MARK, OUTCOME, mark_value, outcome_value
from streams.runtime.outbox import Outbox
from streams.settings import Settings


class OutcomeSender:
    """Sends a SKU state's outcomes, keyed by campaign, and a partition's marks to every partition."""

    def __init__(self, settings: Settings, topics: Topics) -> None:
        self.topic, self.partitions = topics.experiment_events, settings.topic_partitions
        self.pre_minutes, self.bucket_s = settings.holdout_pre_minutes, 60 * settings.bucket_minutes

    async def send(self, state: SkuState, outbox: Outbox) -> None:
        """The outcomes ``state`` logged since the last call (emptied)."""
        for outcome in take_outcomes(state.outcomes, self.pre_minutes):
            end = outcome.bucket + self.bucket_s
            await outbox.send(self.topic, key=outcome.campaign_id.encode(), value=outcome_value(outcome),
                              timestamp=end, headers=[("kind", OUTCOME.encode())])  # fmt: skip
            metrics.EVENTS_OUT.labels(topic=self.topic.get_topic_name()).inc()

    async def mark(self, partition: int, watermark: float, outbox: Outbox) -> None:
        """``sku-events`` partition ``partition`` has closed every bucket ending by ``watermark``."""
        for target in range(self.partitions):
            await outbox.send(self.topic, value=mark_value(partition, watermark), partition=target,
                              timestamp=watermark, headers=[("kind", MARK.encode())])  # fmt: skip
