"""The rankers user lists are drawn from: one per minute of event time and catalog version.

Candidates change with campaigns and stock: per minute of event time is fresh enough. A minute's
candidates are taken at its first list (as the twin takes them) and kept for every batch of that
minute: a batch is often a few dozen events, a catalog 10⁴ SKUs. Partitions read at different points
of a backlog need several minutes' at once, so the latest used are kept.
"""

from __future__ import annotations

from collections import OrderedDict

from models.recommend.ranking import Ranker
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
