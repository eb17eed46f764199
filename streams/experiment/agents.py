"""The experiment stage's wiring: the agent of ``experiment-events`` (its logic:
:class:`streams.experiment.processor.ExperimentProcessor`) and its two tables."""

from __future__ import annotations

import faust

from streams import metrics
from streams.app import Flashsale
from streams.experiment.processor import ExperimentProcessor
from streams.experiment.state import EXPERIMENT_CAMPAIGNS, EXPERIMENT_CLOCKS
from streams.runtime.catchup import read_range
from streams.runtime.ingest import batches
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import state_table
from streams.runtime.tenure import Ownership


def register(flashsale: Flashsale) -> None:
    """Register the experiment agent on ``flashsale.app`` (it idles while no holdout runs)."""
    app, settings, topics = flashsale.app, flashsale.settings, flashsale.topics
    ownership = Ownership(app)
    processor = ExperimentProcessor(
        settings, topics, state_table(app, "experiment-campaigns", EXPERIMENT_CAMPAIGNS),
        state_table(app, "experiment-clocks", EXPERIMENT_CLOCKS), lambda: Outbox(app), read_range,
    )  # fmt: skip

    @app.agent(topics.experiment_events, name="experiment")
    async def experiment(stream: faust.StreamT) -> None:
        async for events in batches(stream, settings.stream_batch_size, settings.stream_batch_wait_ms / 1000):
            metrics.BATCH_SIZE.labels(agent="experiment").observe(len(events))
            await processor.process(events, await ownership.begin())
