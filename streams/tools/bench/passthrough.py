"""The trivial Faust workers of ``flashsale bench``:
``python -m streams.tools.bench.passthrough [forward|count]``.

Both are bare apps (:func:`streams.app.create_app`) on the same topics and
consumer settings as the pipeline, with one agent per input topic:

* ``forward`` (the pass-through): the textbook Faust agent, one event at a time, each sent on
  unchanged (key, value) to a ``bench-passthrough`` topic. What a trivial Faust stage costs per event.
* ``count``: takes batches exactly as the pipeline's agents do (:func:`streams.runtime.ingest.batches`) and
  only counts them. Nothing is sent: Faust's own delivery alone, the ceiling for any Faust agent.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import faust
from faust.worker import Worker

from streams.app import Flashsale, create_app
from streams.runtime.ingest import batches
from streams.settings import Settings

MODES = ("forward", "count")
OUTPUT = "bench-passthrough"


def passthrough_app(settings: Settings, mode: str = "forward") -> Flashsale:
    """The bare app with one agent per input topic: ``forward`` or ``count`` (see module doc)."""
    fs = create_app(settings, web=False)
    batch_wait_s = settings.stream_batch_wait_ms / 1000
    topics = fs.topics
    output = fs.app.topic(settings.topic(OUTPUT), key_type=bytes, value_type=bytes, key_serializer="raw",
                          value_serializer="raw", partitions=settings.topic_partitions)  # fmt: skip
    for name, topic, within in (
        ("catalog", topics.catalog, batch_wait_s),
        ("clicks", topics.clicks, settings.bert_max_wait_ms / 1000),
        ("orders", topics.orders, batch_wait_s),
        ("stock", topics.stock, batch_wait_s),
    ):
        agent = _forwarder(output) if mode == "forward" else _counter(settings.stream_batch_size, within)
        fs.app.agent(topic, name=f"{mode}-{name}")(agent)
    return fs


def _forwarder(output: faust.TopicT) -> Callable[[faust.StreamT], Awaitable[None]]:
    async def forward(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await output.send(key=event.key, value=event.value)

    return forward


def _counter(size: int, within: float) -> Callable[[faust.StreamT], Awaitable[None]]:
    async def count(stream: faust.StreamT) -> None:
        seen = 0
        async for events in batches(stream, size, within):
            seen += len(events)

    return count


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "forward"
    if mode not in MODES:
        sys.exit(f"usage: python -m streams.tools.bench.passthrough [{'|'.join(MODES)}]")
    settings = Settings()
    fs = passthrough_app(settings, mode)
    Worker(fs.app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
