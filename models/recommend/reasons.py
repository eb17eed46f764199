"""Why an item is on a user's list, in one vocabulary and a short text that is true.

A reason names the user's own signal behind the item — an item they viewed, clicked, carted or
bought, or their search — or the item's sales. It never names anything the user did not do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

#: The kinds of reason (the ``recommendations`` contract's ``reason_kind``): the user's own signal —
#: ``viewed``, ``clicked``, ``carted``, ``bought``, ``searched`` — or the item's sales — ``trending``
#: (units sold in the last minutes), ``popular`` (units sold so far, or on sale with none sold yet);
#: ``similar`` only for a user whose signals are unknown (state kept from before signals were kept).
REASON_KINDS = ("viewed", "clicked", "carted", "bought", "searched", "similar", "trending", "popular")
SIGNAL_KIND = {"view": "viewed", "click": "clicked", "add_to_cart": "carted", "order": "bought",
               "search": "searched"}  # fmt: skip
LABEL_MAX = 80  # characters of a title or query quoted in a reason


class Signal(NamedTuple):
    """One of the user's own interactions that a reason may name."""

    kind: str  # viewed, clicked, carted, bought or searched
    label: str  # the item's title, or the query
    vector: np.ndarray  # unit norm
    category: str | None = None  # the item's catalogue category; None for a search


def signal_text(signal: Signal) -> str:
    """The reason text naming ``signal``.

    >>> signal_text(Signal("searched", "usb-c hub", np.zeros(2)))
    'because you searched for "usb-c hub"'
    >>> signal_text(Signal("carted", "JBL Flip 6", np.zeros(2)))
    'because you added JBL Flip 6 to your cart'
    """
    label = signal.label if len(signal.label) <= LABEL_MAX else signal.label[: LABEL_MAX - 1] + "…"
    if signal.kind == "searched":
        return f'because you searched for "{label}"'
    if signal.kind == "carted":
        return f"because you added {label} to your cart"
    return f"because you {signal.kind} {label}"


def sales_reason(recent_units: int, units: int, window_minutes: int) -> tuple[str, str]:
    """(kind, text) of an item listed for its sales.

    >>> sales_reason(14, 30, 10)
    ('trending', 'trending: 14 sold in the last 10 min')
    >>> sales_reason(0, 30, 10), sales_reason(0, 0, 10)
    (('popular', 'popular: 30 sold so far'), ('popular', 'on sale now'))
    """
    if recent_units >= 1:
        return "trending", f"trending: {recent_units} sold in the last {window_minutes} min"
    if units >= 1:
        return "popular", f"popular: {units} sold so far"
    return "popular", "on sale now"


def closest_signals(items: np.ndarray, signals: Sequence[Signal]) -> list[tuple[str, str]]:
    """(kind, text) of the user's signal whose vector is closest to each row of ``items``, in one
    product (the first of equally close ones).

    >>> viewed = Signal("viewed", "Sony WH-1000XM5", np.array([1.0, 0.0]))
    >>> searched = Signal("searched", "garden hose", np.array([0.0, 1.0]))
    >>> [kind for kind, _ in closest_signals(np.array([[0.9, 0.1], [0.2, 0.8]]), [viewed, searched])]
    ['viewed', 'searched']
    """
    if not signals:
        return [("similar", "similar to what you looked at earlier")] * len(items)
    nearest = (np.stack([s.vector for s in signals]) @ np.asarray(items).T).argmax(axis=0)
    return [(signals[j].kind, signal_text(signals[j])) for j in nearest.tolist()]


def category_signal(category: str, signals: Sequence[Signal]) -> Signal | None:
    """The user's latest signal (``signals`` come latest first) on an item of ``category``."""
    return next((s for s in signals if s.category == category), None)
