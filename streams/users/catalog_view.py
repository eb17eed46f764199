"""Every worker's own view of the whole catalog, item embeddings and SKU status.

Recommendations need all SKUs, not just a worker's partitions, so each worker reads the compacted
``catalog`` and ``sku-status`` topics in full with a group-less consumer (the topics are their own
durable log) and embeds each title once, in batches, when it first appears or changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiokafka import AIOKafkaConsumer, TopicPartition
from rocksdict import Options, Rdict

from models.recommend.embeddings import vector_norm
from models.recommend.profile import Item
from models.recommend.sales import SalesHistory
from models.text.bert import BertScorer
from models.text.cache import ByteStore, ItemEmbeddingCache
from streams.app import worker_dir
from streams.contracts.decoding import decode
from streams.contracts.records import CatalogItem
from streams.contracts.topics import CATALOG, SKU_STATUS
from streams.runtime.admin import aiokafka_config, partitions_of
from streams.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Candidates:
    """SKUs that can be recommended at a moment, with their vectors, categories and sales."""

    skus: list[str]
    matrix: np.ndarray
    categories: list[str]
    units: np.ndarray  # units sold so far, from sku-status
    recent_sold: np.ndarray  # units sold in the last 10 minutes, from sku-status


@dataclass(frozen=True, eq=False)
class Listing:
    """The catalog's SKUs that have a vector, in SKU order (ties rank alike on every worker), as arrays:
    what :meth:`CatalogView.candidates` reads, built once per catalog version."""

    skus: list[str]
    matrix: np.ndarray  # one item vector per row
    categories: list[str]
    starts: np.ndarray  # campaign start, epoch seconds (inf: no campaign)
    ends: np.ndarray

    def live(self, t: float) -> np.ndarray:
        """Rows whose campaign runs at ``t``."""
        return np.flatnonzero((self.starts <= t) & (t < self.ends))


@dataclass
class CatalogView:
    """Catalog items, their embeddings and the latest status of each SKU."""

    items: dict[str, CatalogItem] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    scorer: BertScorer | None = None
    embeddings: ItemEmbeddingCache | None = None
    # Queries (user agents) and titles (catalog reader) are encoded in worker threads: one at a time,
    # as the model and its caches are shared.
    model_lock: threading.Lock = field(default_factory=threading.Lock)
    # SKU → (vector, norm) as users learn from it, or None (no vector, or one that teaches nothing).
    _learnable: dict[str, tuple[np.ndarray, float] | None] = field(default_factory=dict)
    sales: SalesHistory = field(default_factory=SalesHistory)  # units sold, as statuses tell
    _listing: Listing | None = None  # the catalog as arrays, dropped when the catalog changes
    version: int = 0  # catalog updates taken so far

    def note_status(self, sku: str, status: dict[str, Any], t: float) -> None:
        """Take an SKU's status published at event time ``t`` (its units sold so far).

        >>> view = CatalogView()
        >>> for minute, units in [(0, 5), (4, 9), (12, 20)]:
        ...     view.note_status("a", {"units_sold": units}, 60.0 * minute)
        >>> view.sales.units("a"), view.sales.recent("a", 720.0), view.sales.recent("b", 720.0)
        (20, 15, 0)
        """
        self.status[sku] = status
        self.sales.note(sku, int(status.get("units_sold") or 0), t)

    def attach(self, scorer: BertScorer, stored: ByteStore | None = None) -> None:
        """Use ``scorer`` for titles and queries (loaded once the worker runs); title vectors are kept
        in ``stored`` too, when given (see :func:`title_store`)."""
        self.scorer, self.embeddings = scorer, ItemEmbeddingCache(scorer, stored=stored)

    @property
    def dim(self) -> int:
        assert self.scorer is not None
        return self.scorer.dim

    @property
    def encoder_name(self) -> str:
        return self.scorer.model_name if self.scorer else "none"

    @property
    def cache_misses(self) -> int:
        return self.scorer.query_cache.misses if self.scorer else 0

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        assert self.scorer is not None
        with self.model_lock:
            return self.scorer.encode_queries(queries)

    def apply_catalog(self, items: list[CatalogItem]) -> None:
        """Take new catalog versions; titles that changed are embedded together."""
        assert self.embeddings is not None
        with self.model_lock:
            self.embeddings.update({item.sku: item.title for item in items})
        self.items = {**self.items, **{item.sku: item for item in items}}  # swapped whole for readers
        self._learnable = {}
        self._listing = None
        self.version += 1

    def vector(self, sku: str) -> np.ndarray | None:
        if self.embeddings is None or sku not in self.embeddings:
            return None
        return self.embeddings.vector(sku)

    def learnable(self, sku: str) -> tuple[np.ndarray, float] | None:
        """The SKU's vector (a copy) and its norm, for :meth:`UserVector.learn_checked`; None for an
        SKU without a vector or with a zero one."""
        known = self._learnable  # one version: a catalog update in its thread starts a new one
        if sku not in known:
            vector = self.vector(sku)
            norm = vector_norm(vector) if vector is not None else None
            known[sku] = (vector.copy(), norm) if vector is not None and norm is not None else None
        return known[sku]

    def describe(self, sku: str) -> Item | None:
        """What a reason needs of ``sku``: its title, unit vector and category."""
        listed, found = self.items.get(sku), self.learnable(sku)
        if listed is None or found is None:
            return None
        vector, norm = found
        return Item(listed.title, vector / norm, listed.category)

    def candidates(self, ts: float) -> Candidates:
        """Live campaign SKUs (at event time ``ts``) that are in stock (or of unknown stock)."""
        listing = self._listing or self._list()
        rows = [
            i for i in listing.live(ts)
            if (on_hand := self.status.get(listing.skus[i], {}).get("on_hand")) is None or on_hand > 0
        ]  # fmt: skip
        skus = [listing.skus[i] for i in rows]
        units = np.array([self.sales.units(s) for s in skus], np.float64)
        recent_sold = np.array([self.sales.recent(s, ts) for s in skus], np.int64)
        categories = [listing.categories[i] for i in rows]
        return Candidates(skus, listing.matrix[rows], categories, units, recent_sold)

    def _list(self) -> Listing:
        """The catalog as a :class:`Listing`, kept until the catalog changes."""
        items, vectors = self.items, {}
        for sku in sorted(items):
            if (vector := self.vector(sku)) is not None:
                vectors[sku] = vector
        skus = list(vectors)
        campaigns = [items[sku].campaign for sku in skus]
        starts = np.array([c.starts_at.timestamp() if c else np.inf for c in campaigns])
        ends = np.array([c.ends_at.timestamp() if c else -np.inf for c in campaigns])
        matrix = np.stack(list(vectors.values())) if skus else np.zeros((0, self.dim), np.float32)
        listing = Listing(skus, matrix, [items[sku].category for sku in skus], starts, ends)
        if self.items is items:  # no catalog update came in meanwhile (it runs in a thread)
            self._listing = listing
        return listing


def title_store(settings: Settings) -> Rdict | None:
    """The worker's title vectors on disk (RocksDB under its data dir, bytes only): a restarted worker
    encodes only titles it has not seen. None, with a warning, when another process holds it."""
    try:
        return Rdict(str(worker_dir(settings) / "title-vectors"), Options(raw_mode=True))
    except Exception as exc:  # rocksdict raises a bare Exception for a store locked by another process
        log.warning("title vectors are not kept on disk (%s): the catalog is encoded afresh", exc)
        return None


async def follow(view: CatalogView, settings: Settings, ready: asyncio.Event) -> None:
    """Read ``catalog`` and ``sku-status`` from the start, forever; ``ready`` once caught up."""
    names = [settings.topic(CATALOG), settings.topic(SKU_STATUS)]
    consumer = AIOKafkaConsumer(**aiokafka_config(settings), group_id=None, enable_auto_commit=False)
    event_time = settings.event_time_policy()
    try:
        await consumer.start()  # inside: a broker that is down still gets the consumer closed
        partitions = await _partitions(settings, names)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            catalog: list[CatalogItem] = []
            for tp, messages in batches.items():
                for message in messages:
                    if tp.topic == names[0]:
                        try:
                            stamp = message.timestamp / 1000
                            catalog.append(decode(CatalogItem, message.value, stamp, event_time=event_time))
                        except Exception:
                            continue  # the catalog agent dead-letters it
                    elif message.value:
                        view.note_status(
                            message.key.decode(), json.loads(message.value), message.timestamp / 1000
                        )
            if catalog:
                await asyncio.to_thread(view.apply_catalog, catalog)
            if not ready.is_set() and all(await _caught_up(consumer, ends)):
                log.info("catalog view ready: %d items, %d with status", len(view.items), len(view.status))
                ready.set()
    finally:
        await consumer.stop()


async def _partitions(settings: Settings, names: list[str]) -> list[TopicPartition]:
    found = await asyncio.to_thread(partitions_of, settings, names)
    if not all(found.values()):
        raise RuntimeError(f"topics {names} have no partitions: create them first (flashsale topics)")
    return [TopicPartition(n, p) for n, ps in found.items() for p in ps]


async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[bool]:
    return [await consumer.position(tp) >= end for tp, end in ends.items()]
