"""What the plan learns from: per SKU, units sold over intervals of event time, with the discount live
then; intervals that ended sold out are left out (they say how much stock there was, not demand).

A :class:`History` is built from the ``sku-status`` records the stream publishes after each closed
bucket (:func:`from_status`: consecutive records of a SKU bound an interval; its units are the
difference of ``units_sold``) plus the catalogue (category, base price, campaign terms), or from the
simulator's minute matrices (:func:`from_minutes`).

>>> catalog = {"A": {"category": "toys", "base_price": 10.0, "campaign": None}}
>>> status = [{"sku": "A", "units_sold": n, "on_hand": 9 - n, "inbound": 0, "discount": 0.0,
...            "forecast": {"bucket": f"2026-11-11T12:0{m}:00+00:00"}} for m, n in [(1, 0), (2, 2), (3, 3)]]
>>> h = from_status(status, catalog)
>>> h.units.tolist(), h.minutes.tolist(), h.stock.tolist()
([2.0, 1.0], [1.0, 1.0], [6])
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from models.ids import to_epoch


@dataclass(frozen=True)
class SkuInfo:
    """What the catalogue says of one SKU."""

    sku: str
    category: str
    base_price: float


@dataclass(frozen=True)
class Terms:
    """A campaign's discount bounds, default and restock lead time (the catalogue's ``campaign``)."""

    discount: float = 0.3
    min_discount: float = 0.1
    max_discount: float = 0.6
    restock_lead_minutes: int = 15

    def grid(self, points: int = 11) -> np.ndarray:
        """Discounts the plan may open at: ``points`` evenly from the minimum to the maximum."""
        return np.linspace(self.min_discount, self.max_discount, points)


@dataclass(frozen=True)
class History:
    """Rows of (SKU, interval start, minutes, units, live discount), the SKUs' stock at the end (on hand
    plus inbound), past campaign windows (epoch seconds) and the latest campaign terms."""

    skus: tuple[SkuInfo, ...]
    sku: np.ndarray  # row → index into ``skus``
    start: np.ndarray  # epoch seconds
    minutes: np.ndarray
    units: np.ndarray
    discount: np.ndarray
    stock: np.ndarray  # per SKU
    campaigns: tuple[tuple[float, float], ...] = ()
    terms: Terms | None = None
    dropped: dict[str, int] = field(default_factory=dict)  # rows left out, by reason

    @property
    def span(self) -> tuple[float, float]:
        """Event time from the first interval's start to the last interval's end."""
        if not len(self.start):
            return (0.0, 0.0)
        return float(self.start.min()), float((self.start + 60.0 * self.minutes).max())

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({s.category for s in self.skus}))


def _campaign_of(value: Mapping[str, Any]) -> tuple[tuple[float, float] | None, Terms | None]:
    campaign = value.get("campaign")
    if not campaign:
        return None, None
    window = (
        to_epoch(datetime.fromisoformat(campaign["starts_at"])),
        to_epoch(datetime.fromisoformat(campaign["ends_at"])),
    )
    terms = Terms(
        float(campaign["discount"]),
        float(campaign["min_discount"]),
        float(campaign["max_discount"]),
        int(campaign["restock_lead_minutes"]),
    )
    return window, terms


def catalog_info(
    catalog: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, SkuInfo], dict[str, tuple[float, float]], Terms | None]:
    """Per SKU its :class:`SkuInfo` and campaign window; the terms of the latest-starting campaign."""
    info, windows = {}, {}
    latest: tuple[float, Terms | None] = (-np.inf, None)
    for sku, value in sorted(catalog.items()):
        info[sku] = SkuInfo(sku, str(value["category"]), float(value["base_price"]))
        window, terms = _campaign_of(value)
        if window is not None:
            windows[sku] = window
            if window[0] > latest[0]:
                latest = (window[0], terms)
    return info, windows, latest[1]


def _bucket_end(value: Mapping[str, Any], ts: float | None) -> float | None:
    """End of the bucket a status closed: its forecast's open bucket, else the record's timestamp."""
    forecast = value.get("forecast")
    if forecast:
        return to_epoch(datetime.fromisoformat(forecast["bucket"]))
    return ts


def from_status(
    statuses: Iterable[Mapping[str, Any]],
    catalog: Mapping[str, Mapping[str, Any]],
    timestamps: Sequence[float | None] | None = None,
    max_gap_minutes: float = 60.0,
) -> History:
    """A history from ``sku-status`` values (any order) and the catalogue (sku → latest catalog value).

    ``timestamps`` (epoch seconds, the records' Kafka timestamps) stand in for a status without a
    forecast. Intervals longer than ``max_gap_minutes`` (a compacted stretch, a stopped stream) and
    SKUs the catalogue does not name are left out and counted in ``dropped``.
    """
    info, windows, terms = catalog_info(catalog)
    per_sku: dict[str, list[tuple[float, Mapping[str, Any]]]] = {}
    dropped = {"unknown_sku": 0, "gap": 0, "sold_out": 0, "no_time": 0}
    stamps = list(timestamps) if timestamps is not None else None
    for n, value in enumerate(statuses):
        end = _bucket_end(value, stamps[n] if stamps is not None else None)
        if value["sku"] not in info:
            dropped["unknown_sku"] += 1
        elif end is None:
            dropped["no_time"] += 1
        else:
            per_sku.setdefault(value["sku"], []).append((end, value))
    skus = tuple(info[s] for s in sorted(per_sku))
    rows: list[tuple[int, float, float, float, float]] = []
    stock = np.zeros(len(skus), dtype=np.int64)
    for i, s in enumerate(skus):
        records = sorted(per_sku[s.sku], key=lambda p: (p[0], p[1]["units_sold"]))
        last = records[-1][1]
        stock[i] = int(last.get("on_hand") or 0) + int(last.get("inbound") or 0)
        for (t0, a), (t1, b) in itertools.pairwise(records):
            units, minutes = b["units_sold"] - a["units_sold"], (t1 - t0) / 60.0
            if minutes <= 0 or units < 0 or minutes > max_gap_minutes:
                dropped["gap"] += minutes > max_gap_minutes
                continue
            if b.get("on_hand") == 0:
                dropped["sold_out"] += 1
                continue
            window = windows.get(s.sku)
            live = window is not None and window[0] <= t0 < window[1]
            rows.append((i, t0, minutes, float(units), float(a["discount"]) if live else 0.0))
    table = np.array(rows, dtype=float).reshape(-1, 5)
    return History(
        skus,
        table[:, 0].astype(np.int64),
        table[:, 1],
        table[:, 2],
        table[:, 3],
        table[:, 4],
        stock,
        tuple(sorted(set(windows.values()))),
        terms,
        {k: v for k, v in dropped.items() if v},
    )


def from_minutes(
    skus: Sequence[SkuInfo],
    start: float,
    sold: np.ndarray,
    discount: np.ndarray,
    on_hand_end: np.ndarray,
    campaigns: Sequence[tuple[float, float]] = (),
    terms: Terms | None = None,
) -> History:
    """A history from SKUs × minutes matrices starting at ``start`` (epoch seconds): units sold, the
    discount live and the stock at each minute's end (a minute that ended sold out is left out).

    >>> h = from_minutes([SkuInfo("A", "toys", 5.0)], 0.0, np.array([[1, 0, 2]]), np.zeros((1, 3)),
    ...                  np.array([[4, 0, 3]]))
    >>> h.units.tolist(), h.start.tolist(), h.stock.tolist(), h.dropped
    ([1.0, 2.0], [0.0, 120.0], [3], {'sold_out': 1})
    """
    keep = on_hand_end > 0
    i, m = np.nonzero(keep)
    stock = on_hand_end[:, -1].astype(np.int64) if on_hand_end.shape[1] else np.zeros(len(skus), np.int64)
    dropped = {"sold_out": int((~keep).sum())} if (~keep).any() else {}
    return History(
        tuple(skus),
        i.astype(np.int64),
        start + 60.0 * m,
        np.ones(len(i)),
        sold[i, m].astype(float),
        discount[i, m].astype(float),
        stock,
        tuple(campaigns),
        terms,
        dropped,
    )
