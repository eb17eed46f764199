"""Units sold per SKU as its statuses tell: the sales evidence the ranker reads.

The stream reads each SKU's ``units_sold`` from ``sku-status`` (published after every closed bucket);
the in-process twin notes the same figure at every closed minute. Both keep it here.

>>> sales = SalesHistory()
>>> for minute, units in [(0, 5), (4, 9), (12, 20)]:
...     sales.note("a", units, 60.0 * minute)
>>> sales.units("a"), sales.recent("a", 720.0), sales.recent("b", 720.0)
(20, 15, 0)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

TRENDING_WINDOW_S = 600.0  # "trending: N sold in the last 10 min"


@dataclass
class SalesHistory:
    """Per SKU, (event time, units sold so far) of its statuses over the last ``window_s``."""

    window_s: float = TRENDING_WINDOW_S
    sold: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)

    def note(self, sku: str, units_sold: int, t: float) -> None:
        """Take a status of ``sku`` at event time ``t``: ``units_sold`` so far."""
        history = self.sold.setdefault(sku, deque())
        history.append((t, int(units_sold)))
        while len(history) > 1 and history[1][0] <= t - self.window_s:
            history.popleft()  # the oldest kept is the last one at or before the window's start

    def units(self, sku: str) -> int:
        """Units ``sku`` sold so far, as its latest status tells (0 before any)."""
        history = self.sold.get(sku)
        return history[-1][1] if history else 0

    def recent(self, sku: str, t: float) -> int:
        """Units ``sku`` sold in the ``window_s`` before ``t``."""
        history = self.sold.get(sku)
        if not history:
            return 0
        before = [units for when, units in history if when <= t - self.window_s]
        return history[-1][1] - (before[-1] if before else 0)
