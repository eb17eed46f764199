"""Per-user agent family: clicks and orders (keyed by user_id) → user embeddings → recommendations.

Each batch is one BERT batch: the search queries in it are encoded together (cached, padded to the
batch's longest), then every event moves its user's vector, in offset order. A user gets a fresh
top-k at most once per debounce interval of event time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

import faust
import numpy as np
from faust.types import TP, EventT

from models.ids import from_epoch
from models.recommend.embeddings import ACTION_WEIGHTS, UserVector, vector_norm
from models.recommend.ranking import Ranker
from models.text.bert import BertScorer
from streams import metrics
from streams.app import Flashsale
from streams.contracts.decoding import InvalidEvent, LateEvent, UnknownSku
from streams.contracts.eventtime import event_seconds
from streams.contracts.records import Click, Event, Order, recommendation_bytes
from streams.runtime.deadletters import send_dead_letter
from streams.runtime.dedup import count_duplicate, event_ids
from streams.runtime.forwarding import source_name
from streams.runtime.ingest import batches, decode_batch
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import load, put, state_table
from streams.runtime.tenure import Ownership, Tenure
from streams.settings import Settings
from streams.users.catalog_view import CatalogView, follow
from streams.users.state import USER_SLOTS, UserSlot

log = logging.getLogger(__name__)


def load_scorer(s: Settings, query_cache_size: int | None = None) -> BertScorer:
    """The worker's scorer from settings (``query_cache_size`` overrides the setting: benchmarks)."""
    # One core stays with the Faust loop: on 2 cores, 2 torch threads made the stage 1.2-3.7x slower.
    threads = s.bert_threads or max(1, len(os.sched_getaffinity(0)) - 1)
    cache = s.query_cache_size if query_cache_size is None else query_cache_size
    return BertScorer.load(
        s.model_path, device=s.device, int8=s.bert_int8, threads=threads,
        query_cache_size=cache, max_batch=s.bert_max_batch,
    )  # fmt: skip


def register(fs: Flashsale, scorer: BertScorer | None = None) -> CatalogView:
    """Register the per-user agents and the catalog view on ``fs.app``; returns the view.

    The BERT model loads in the background when the worker starts (default: from settings); the
    user agents wait until it is loaded and the catalog has been read to its end.
    """
    app, s, topics = fs.app, fs.settings, fs.topics
    view = CatalogView()
    catalog_ready = asyncio.Event()
    users = state_table(app, "users", USER_SLOTS)
    recommendations = topics.recommendations.get_topic_name()
    recommendations_out = metrics.EVENTS_OUT.labels(topic=recommendations)
    ownership = Ownership(app)
    event_time_policy = s.event_time_policy()
    dedup_window_s = 60 * s.dedup_window_minutes
    slots_lock = asyncio.Lock()

    @app.task
    async def follow_catalog() -> None:
        view.attach(scorer if scorer is not None else await asyncio.to_thread(load_scorer, s))
        while True:  # a broker outage must not take the worker down: read the catalog again
            try:
                await follow(view, s, catalog_ready)
            except Exception as exc:
                log.warning("catalog view interrupted (%s); reading it again in 2 s", exc)
                await asyncio.sleep(2)

    async def recommend(
        user_id: str,
        slot: UserSlot,
        event_id: str,
        ts: float,
        rankers: dict[int, Ranker],
        outbox: Outbox,
    ) -> None:
        minute = int(ts // 60)  # candidates change with campaigns and stock: per minute is fresh enough
        if minute not in rankers:
            found = view.candidates(ts)
            categories = [view.items[sku].category for sku in found.skus]
            rankers[minute] = Ranker(found.matrix, found.skus, found.popularity, categories=categories)
        ranker = rankers[minute]
        if not ranker.skus:
            return
        top = ranker.top(slot.vector.embedding(), k=s.recommendations_k)
        items = [(r.sku, round(r.score, 6), r.reason) for r in top]
        value = recommendation_bytes(user_id, items, view.encoder_name, event_id, from_epoch(ts))
        await outbox.send_bytes(recommendations, key=user_id.encode(), value=value, timestamp=ts)
        recommendations_out.inc()

    async def encode(queries: list[str]) -> np.ndarray:
        misses_before = view.cache_misses
        with metrics.BERT_SECONDS.time():
            vectors = await asyncio.to_thread(view.encode_queries, queries)
        metrics.BERT_TEXTS.inc(view.cache_misses - misses_before)
        return vectors

    def unlisted(record: Click | Order) -> InvalidEvent | None:
        """A click on an SKU the catalog has not listed (orders: the per-SKU agent refuses them)."""
        if isinstance(record, Click) and record.sku and record.sku not in view.items:
            return UnknownSku(f"unknown sku {record.sku!r}: the catalog has not listed it")
        return None

    def late(slot: UserSlot, source: str, ts: float) -> InvalidEvent | None:
        """A time this user's events from ``source`` already left behind by more than the lateness."""
        behind = slot.times.behind(source, ts)
        if behind > s.allowed_lateness_s:
            return LateEvent(f"event time is {behind:.0f} s behind this user's latest event from {source} "
                             f"(allowed lateness {s.allowed_lateness_s:g} s)")  # fmt: skip
        return None

    async def learn(
        agent: str, good: Sequence[tuple[EventT, Event]], dead_letters: faust.TopicT | None, tenure: Tenure
    ) -> None:
        queries = [r.query for _, r in good if isinstance(r, Click) and r.action == "search" and r.query]
        vectors = await encode(queries) if queries else None
        query_vec = dict(zip(queries, vectors, strict=True)) if vectors is not None else {}
        learnable_query = {q: (v, norm) for q, v in query_vec.items() if (norm := vector_norm(v)) is not None}
        # Both user agents write the same slots: one batch at a time (BERT above runs alongside), or
        # the later write would undo the other's (a click lost from a vector, an id forgotten).
        async with slots_lock:
            await move_users(agent, good, learnable_query, dead_letters, tenure)

    async def move_users(
        agent: str,
        good: Sequence[tuple[EventT, Event]],
        learnable_query: dict[str, tuple[np.ndarray, float]],
        dead_letters: faust.TopicT | None,
        tenure: Tenure,
    ) -> None:
        batch: dict[str, tuple[TP, UserSlot]] = {}
        rankers: dict[int, Ranker] = {}
        outbox = Outbox(app)
        for event, record in good:
            assert isinstance(record, Click | Order)
            message = event.message
            if not tenure.holds(message.tp):
                continue  # lost in a rebalance while BERT ran: its new owner reads it again
            _, slot = batch.get(record.user_id) or (message.tp, load(users, record.user_id))
            slot = slot or UserSlot(UserVector.empty(view.dim))
            batch[record.user_id] = (message.tp, slot)
            source = source_name(message.topic, message.partition, s.topic_prefix)
            if not slot.accept(source, message.offset):
                continue
            ts = event_seconds(record)
            ids = tuple(f"{record.topic_name}:{i}" for i in event_ids(record))
            # A copy with a defect of its own is bad input, not a retry; a retry is often behind by now.
            refused = unlisted(record)
            if refused is None and slot.seen.duplicate(ids, ts, dedup_window_s):  # re-sent by its producer
                count_duplicate(agent, record.topic_name)
                continue
            refused = refused or late(slot, source, ts)
            if refused is not None:
                if dead_letters is not None:  # orders: the per-SKU agent dead-letters them
                    await send_dead_letter(dead_letters, event, refused, outbox)
                continue
            slot.times.saw(source, ts)
            slot.seen.note(ids, ts)
            action = "order" if isinstance(record, Order) else record.action
            if action == "search":
                item = learnable_query.get(record.query or "")
            else:
                item = view.learnable(record.sku or "")
            if item is None:
                continue  # an SKU not (yet) in the catalog moves nothing
            slot.vector = slot.vector.learn_checked(*item, ACTION_WEIGHTS[action], ts)
            if slot.recommended_at is None or ts - slot.recommended_at >= s.recommendation_debounce_s:
                await recommend(record.user_id, slot, record.event_id, ts, rankers, outbox)
                slot.recommended_at = ts
                slot.forget_old_ids(dedup_window_s, s.allowed_lateness_s)  # now and then is enough
        await outbox.settle()  # recommendations stored before the vectors that made them (see outbox)
        kept = await tenure.kept()  # written after any recovery, and only where no one else took over
        for user_id, (tp, slot) in batch.items():
            if tp in kept:
                await put(users, tp.partition, user_id, slot, outbox)
        await outbox.settle()

    def user_agent(topic: faust.TopicT, name: str, dead_letters: faust.TopicT | None) -> None:
        async def agent(stream: faust.StreamT) -> None:
            await catalog_ready.wait()  # vectors of the items users touch must be known first
            async for batch in batches(stream, s.stream_batch_size, s.bert_max_wait_ms / 1000):
                metrics.BATCH_SIZE.labels(agent=name).observe(len(batch))
                tenure = ownership.begin()
                events = [e for e in batch if tenure.holds(e.message.tp)]  # the rest: their new owner's
                good = await decode_batch(events, dead_letters, s.topic_prefix, event_time_policy)
                await learn(name, good, dead_letters, tenure)

        app.agent(topic, name=name)(agent)

    user_agent(topics.clicks, "user-clicks", topics.dead_letters)
    user_agent(topics.orders, "user-orders", None)  # the order forwarder dead-letters bad orders
    return view
