"""The trivial Faust pass-through worker of ``flashsale bench``: ``python -m streams.bench.passthrough``.

A bare app (:func:`streams.app.create_app` with ``agents=False``) with one agent per input topic that
takes batches exactly as the pipeline's agents do (:func:`streams.ingest.batches`) and
only counts them: what Faust itself costs, on the same topics and consumer settings as the pipeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust
from faust.worker import Worker

from streams.app import Flashsale, create_app
from streams.ingest import batches
from streams.settings import Settings


def passthrough_app(settings: Settings) -> Flashsale:
    """The bare app with one counting agent per input topic (clicks batched as ``streams.users`` does)."""
    fs = create_app(settings, agents=False, web=False)
    batch_wait_s = settings.stream_batch_wait_ms / 1000
    topics = fs.topics
    for name, topic, within in (
        ("catalog", topics.catalog, batch_wait_s),
        ("clicks", topics.clicks, settings.bert_max_wait_ms / 1000),
        ("orders", topics.orders, batch_wait_s),
        ("stock", topics.stock, batch_wait_s),
    ):
        fs.app.agent(topic, name=f"count-{name}")(_counter(settings.stream_batch_size, within))
    return fs


def _counter(size: int, within: float) -> Callable[[faust.StreamT], Awaitable[None]]:
    async def count(stream: faust.StreamT) -> None:
        seen = 0
        async for events in batches(stream, size, within):
            seen += len(events)

    return count


def main() -> None:
    settings = Settings()
    fs = passthrough_app(settings)
    Worker(fs.app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
