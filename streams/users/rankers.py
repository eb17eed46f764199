"""User lists: the rankers they are drawn from, and a batch's due lists ranked and sent.

Candidates change with campaigns and stock: per minute of event time is fresh enough. A minute's
candidates are taken at its first list (as the twin takes them) and kept for every batch of that
minute: a batch is often a few dozen events, a catalog 10⁴ SKUs. Partitions read at different points
of a backlog need several minutes' at once, so the latest used are kept.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from models.ids import from_epoch
from models.recommend.embeddings import vector_norm
from models.recommend.ranking import Ranker
from models.recommend.reasons import Signal
from streams import metrics
from streams.contracts.records import recommendation_bytes
from streams.runtime.outbox import Outbox
from streams.settings import Settings
from streams.users.catalog_view import CatalogView

RANKERS_KEPT = 8  # minutes of candidates kept (each a copy of their vectors: 8 MB at 5,000 SKUs)


class MinuteRankers:
    """The :class:`Ranker` of each minute of event time over ``view``'s candidates, the
    ``RANKERS_KEPT`` latest used kept."""

    def __init__(self, view: CatalogView) -> None:
        self.view = view
        # (minute, catalog version) → its candidates, the latest used last.
        self._rankers: OrderedDict[tuple[int, int], Ranker] = OrderedDict()

    def at(self, ts: float) -> Ranker:
        """The ranker of ``ts``'s minute of event time, for the catalog version now."""
        key = (int(ts // 60), self.view.version)
        if key not in self._rankers:
            found = self.view.candidates(ts)
            self._rankers[key] = Ranker(
                found.matrix, found.skus, found.units, found.categories, recent_orders=found.recent_sold
            )
            while len(self._rankers) > RANKERS_KEPT:
                self._rankers.popitem(last=False)
        self._rankers.move_to_end(key)
        return self._rankers[key]


class Wanted(NamedTuple):
    """A recommendation due, with what its user had then (later events of the batch move them on)."""

    user_id: str
    event_id: str
    ts: float
    vector: np.ndarray  # unit norm, or zeros while nothing was learnt
    taste: dict[str, float]
    query: Signal | None  # the search this list answers
    signals: list[Signal]
    exclude: frozenset[str]  # bought
    recent: frozenset[str]  # touched lately


class UserLists:
    """Ranks the lists a batch made due and sends them to ``topic``, in event order (the in-process
    twin, models.sim.recommendation_evaluation.ShadowRecommender, ranks alike)."""

    def __init__(self, view: CatalogView, settings: Settings, topic: str) -> None:
        self.view, self.topic = view, topic
        self.k = settings.recommendations_k
        self.recent_limit = int(settings.recommendation_recent_share * self.k)  # items touched lately
        self.minute_rankers = MinuteRankers(view)  # per minute of event time, taken at its first list
        self.sent = metrics.EVENTS_OUT.labels(topic=topic)

    async def send(self, wanted: list[Wanted], outbox: Outbox) -> None:
        """Each of ``wanted`` ranked and sent via ``outbox``; each minute's candidates are scored
        against all of that minute's users in one matrix product."""
        rankers: dict[int, tuple[Ranker, dict[int, np.ndarray]]] = {}
        for minute, group in itertools.groupby(enumerate(wanted), key=lambda w: int(w[1].ts // 60)):
            due = list(group)
            if minute not in rankers:
                rankers[minute] = (self.minute_rankers.at(due[0][1].ts), {})
            rankers[minute][1].update(self.similarities(rankers[minute][0], due))
        for n, one in enumerate(wanted):
            ranker, sims = rankers[int(one.ts // 60)]
            if ranker.skus:
                await self._send_one(one, ranker, sims.get(n), outbox)

    async def _send_one(self, one: Wanted, ranker: Ranker, sims: np.ndarray | None, outbox: Outbox) -> None:
        top = ranker.top(
            one.vector, self.k, taste=one.taste, query=one.query, signals=one.signals,
            exclude=one.exclude, recent=one.recent, recent_limit=self.recent_limit, sims=sims,
        )  # fmt: skip
        items = [(ranked.sku, round(ranked.score, 6), ranked.reason, ranked.kind) for ranked in top]
        value = recommendation_bytes(
            one.user_id, items, self.view.encoder_name, one.event_id, from_epoch(one.ts)
        )
        await outbox.send_bytes(self.topic, key=one.user_id.encode(), value=value, timestamp=one.ts)
        self.sent.inc()

    @staticmethod
    def similarities(ranker: Ranker, group: list[tuple[int, Wanted]]) -> dict[int, np.ndarray]:
        """Each user's cosine to every candidate, by position in the batch's list (a user without a
        vector has none)."""
        units = [(n, w.vector / norm) for n, w in group if (norm := vector_norm(w.vector)) is not None]
        if not units or not ranker.skus:
            return {}
        sims = ranker.similarities(np.stack([unit for _, unit in units]))
        return {n: sims[j] for j, (n, _) in enumerate(units)}
