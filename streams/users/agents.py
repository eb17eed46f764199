"""Per-user agent family: clicks and orders (keyed by user_id) → user embeddings → recommendations.

The agents are wiring: each takes a batch, drops the partitions it no longer holds, decodes it and
hands it to the :class:`~streams.users.processor.UserProcessor`, which both agents share. Each batch is
one BERT batch: the search queries in it are encoded together (cached, padded to the batch's longest),
then every event moves its user's vector, in offset order. A user gets a fresh top-k at most once per
debounce interval of event time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from functools import partial

import faust

from models.text.bert import BertScorer
from streams import metrics
from streams.app import Flashsale
from streams.runtime import heap
from streams.runtime.faust_internals import withhold_acks
from streams.runtime.ingest import batches, decode_in_order
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import state_table
from streams.runtime.tenure import Ownership
from streams.settings import Settings
from streams.users.catalog_view import CatalogView, follow, title_store
from streams.users.processor import UserProcessor
from streams.users.state import USER_POSITIONS, USER_SLOTS

log = logging.getLogger(__name__)


def load_scorer(settings: Settings, query_cache_size: int | None = None) -> BertScorer:
    """The worker's scorer from settings (``query_cache_size`` overrides the setting: benchmarks)."""
    # One core stays with the Faust loop: on 2 cores, 2 torch threads made the stage 1.2-3.7x slower.
    threads = settings.bert_threads or max(1, len(os.sched_getaffinity(0)) - 1)
    cache = settings.query_cache_size if query_cache_size is None else query_cache_size
    return BertScorer.load(
        settings.model_path, device=settings.device, int8=settings.bert_int8, threads=threads,
        query_cache_size=cache, max_batch=settings.bert_max_batch,
    )  # fmt: skip


def register(flashsale: Flashsale, scorer: BertScorer | None = None) -> CatalogView:
    """Register the per-user agents and the catalog view on ``flashsale.app``; returns the view.

    The BERT model loads in the background when the worker starts (default: from settings); the
    user agents wait until it is loaded and the catalog has been read to its end.
    """
    app, settings, topics = flashsale.app, flashsale.settings, flashsale.topics
    view = CatalogView()
    catalog_ready = asyncio.Event()
    users = state_table(app, "users", USER_SLOTS)
    positions = state_table(app, "user-positions", USER_POSITIONS)
    recommendations = topics.recommendations.get_topic_name()
    processor = UserProcessor(users, positions, view, settings, partial(Outbox, app), recommendations)
    ownership = Ownership(app)
    event_time_policy = settings.event_time_policy()

    @app.task
    async def freeze_loaded_heap() -> None:
        await catalog_ready.wait()
        heap.freeze("loading the BERT model and the catalog")  # the user path's start: see heap

    @app.task
    async def follow_catalog() -> None:
        loaded = scorer if scorer is not None else await asyncio.to_thread(load_scorer, settings)
        view.attach(loaded, title_store(settings))
        while True:  # a broker outage must not take the worker down: read the catalog again
            try:
                await follow(view, settings, catalog_ready)
            except Exception as exc:
                log.warning("catalog view interrupted (%s); reading it again in 2 s", exc)
                await asyncio.sleep(2)

    def user_agent(topic: faust.TopicT, name: str, dead_letters: faust.TopicT | None) -> None:
        async def agent(stream: faust.StreamT) -> None:
            await catalog_ready.wait()  # vectors of the items users touch must be known first
            async for batch in batches(stream, settings.stream_batch_size, settings.bert_max_wait_ms / 1000):
                metrics.BATCH_SIZE.labels(agent=name).observe(len(batch))
                tenure = await ownership.begin()
                # The rest: a new owner's, or fetched before a rebalance that sought their partition back.
                taken = [event for event in batch if tenure.current(event)]
                decoded = await decode_in_order(taken, dead_letters, settings.topic_prefix, event_time_policy)
                kept = await processor.process(name, decoded, dead_letters, tenure)
                applied = {id(event) for event in taken if event.message.tp in kept}
                withhold_acks(event for event in batch if id(event) not in applied)

        app.agent(topic, name=name)(agent)

    user_agent(topics.clicks, "user-clicks", topics.dead_letters)
    user_agent(topics.orders, "user-orders", None)  # the order forwarder dead-letters bad orders
    return view
