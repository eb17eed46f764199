"""Rank live campaign SKUs for a user: cosine to the user vector blended with what is selling now.

Each item carries a reason that names the user's own signal behind it — the recent interaction (or
search) its vector is closest to — or, for an item there for its popularity, the units it sold lately.
A reason never names anything the user did not do. Items the user bought are left out, and items they
touched lately are held to a share of the list (default none), so a list shows something new.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np

from models.ids import to_epoch

#: What an interaction is worth relative to an order in the popularity score.
INTERACTION_WEIGHT = 0.2


#: The kinds of reason (the ``recommendations`` contract's ``reason_kind``): the user's own signal —
#: ``viewed``, ``clicked``, ``carted``, ``bought``, ``searched`` — or the item's sales — ``trending``
#: (units sold in the last minutes), ``popular``; ``similar`` only for a user whose signals are unknown
#: (state kept from before signals were kept).
REASON_KINDS = ("viewed", "clicked", "carted", "bought", "searched", "similar", "trending", "popular")
SIGNAL_KIND = {"view": "viewed", "click": "clicked", "add_to_cart": "carted", "order": "bought",
               "search": "searched"}  # fmt: skip
LABEL_MAX = 80  # characters of a title or query quoted in a reason
SIMILAR_TEXT = "similar to what you looked at earlier"  # a user whose signals are unknown


class Recommendation(NamedTuple):
    sku: str
    score: float
    reason: str  # a short text for people
    kind: str = "popular"  # one of REASON_KINDS, for services that render or translate it


class Signal(NamedTuple):
    """One of the user's own interactions that a reason may name."""

    kind: str  # viewed, clicked, carted, bought or searched
    label: str  # the item's title, or the query
    vector: np.ndarray  # unit norm


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


@dataclass
class PopularityTracker:
    """Orders and interactions per SKU over a sliding event-time window, in per-minute slots.

    Late events still count when their slot is inside the window; the window ends at the latest event
    time seen (``watermark``), never at wall-clock time.

    Examples
    --------
    >>> from datetime import UTC
    >>> p = PopularityTracker(window_s=600)
    >>> for m in (0, 5, 12):
    ...     p.learn_one("a", "order", datetime(2024, 1, 1, 0, m, tzinfo=UTC))
    >>> p.counts("a")  # the order at minute 0 has left the 10-minute window
    (2.0, 0.0)
    """

    window_s: int = 600
    slot_s: int = 60
    watermark: float | None = None
    slots: dict[str, dict[int, list[float]]] = field(default_factory=dict)  # sku -> slot -> [orders, other]

    def learn_one(self, sku: str, action: str, ts: datetime) -> None:
        """Count one event (``order``, or any click-stream action) for ``sku`` at event time ``ts``."""
        t = to_epoch(ts)
        self.watermark = t if self.watermark is None else max(self.watermark, t)
        slot = int(t // self.slot_s) * self.slot_s
        if not self._live(slot, self.watermark):
            return
        per_sku = self.slots.setdefault(sku, {})
        counts = per_sku.setdefault(slot, [0.0, 0.0])
        counts[0 if action == "order" else 1] += 1.0
        for s in [s for s in per_sku if not self._live(s, self.watermark)]:
            del per_sku[s]

    def _live(self, slot: int, now: float) -> bool:
        return slot + self.slot_s > now - self.window_s

    def counts(self, sku: str) -> tuple[float, float]:
        """(orders, other interactions) of ``sku`` in the window ending at the watermark."""
        if self.watermark is None:
            return 0.0, 0.0
        live = [c for s, c in self.slots.get(sku, {}).items() if self._live(s, self.watermark)]
        return sum(c[0] for c in live), sum(c[1] for c in live)

    def arrays(self, skus: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(popularity scores, order counts) aligned with ``skus``, ready for :func:`rank`."""
        c = np.array([self.counts(s) for s in skus], dtype=np.float64).reshape(len(skus), 2)
        return c[:, 0] + INTERACTION_WEIGHT * c[:, 1], c[:, 0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state; slots that left the window (and SKUs with none left) are dropped."""
        now = self.watermark
        slots = {
            sku: live
            for sku, per_sku in self.slots.items()
            if (live := {str(s): c for s, c in per_sku.items() if now is None or self._live(s, now)})
        }
        return {"window_s": self.window_s, "slot_s": self.slot_s, "watermark": now, "slots": slots}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PopularityTracker:
        slots = {k: {int(s): list(c) for s, c in v.items()} for k, v in d["slots"].items()}
        return cls(d["window_s"], d["slot_s"], d["watermark"], slots)


def rank(
    user_vec: np.ndarray | None,
    item_matrix: np.ndarray,
    skus: Sequence[str],
    popularity: np.ndarray,
    k: int = 10,
    *,
    mask: np.ndarray | None = None,
    similarity_weight: float = 0.7,
    recent_orders: np.ndarray | None = None,
    window_minutes: int = 10,
    signals: Sequence[Signal] = (),
    exclude: Collection[str] = (),
    recent: Collection[str] = (),
    recent_limit: int = 0,
) -> list[Recommendation]:
    """Top ``k`` SKUs by ``w * cosine + (1 - w) * popularity``, each with a reason that is true.

    ``item_matrix`` rows are unit-norm item vectors aligned with ``skus``; ``mask`` (bool) keeps the
    candidates (live, in stock). Popularity is log-scaled to [0, 1] so one runaway SKU does not flatten
    the rest. A user without a vector (``None`` or zeros) gets popularity alone. ``signals``: the user's
    recent interactions, which reasons name; ``exclude``: SKUs never listed (bought); ``recent``: SKUs
    touched lately, at most ``recent_limit`` of them in the list (more only when nothing else is left).
    To rank many users against the same items, build one :class:`Ranker` and call :meth:`Ranker.top`.

    Examples
    --------
    >>> items = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    >>> viewed = Signal("viewed", "Sony WH-1000XM5", np.array([1.0, 0.0]))
    >>> recs = rank(np.array([1.0, 0.0]), items, ["a", "b", "c"], np.array([0.0, 9.0, 0.0]), k=2,
    ...             recent_orders=np.array([0, 9, 0]), signals=[viewed], exclude={"a"})
    >>> for r in recs:  # "a" was bought: never listed
    ...     print(r.sku, r.kind, r.reason)
    c viewed because you viewed Sony WH-1000XM5
    b trending trending: 9 sold in the last 10 min
    """
    ranker = Ranker(
        item_matrix, skus, popularity, mask=mask, similarity_weight=similarity_weight,
        recent_orders=recent_orders, window_minutes=window_minutes,
    )  # fmt: skip
    return ranker.top(user_vec, k, signals=signals, exclude=exclude, recent=recent, recent_limit=recent_limit)


@dataclass
class Ranker:
    """:func:`rank` for one set of items: what does not depend on the user is computed once."""

    item_matrix: np.ndarray
    skus: Sequence[str]
    popularity: np.ndarray
    mask: np.ndarray | None = None
    similarity_weight: float = 0.7
    recent_orders: np.ndarray | None = None
    window_minutes: int = 10
    _pop: np.ndarray = field(init=False, repr=False)  # popularity log-scaled to [0, 1]
    _candidates: np.ndarray = field(init=False, repr=False)  # indices the mask keeps
    _index: dict[str, int] = field(init=False, repr=False)  # sku → row
    _pop_parts: dict[float, np.ndarray] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.skus)
        if self.item_matrix.shape[0] != n or self.popularity.shape != (n,):
            raise ValueError("item_matrix rows, skus and popularity must align")
        logpop = np.log1p(np.maximum(self.popularity, 0.0))
        top = float(logpop.max()) if n else 0.0
        self._pop = logpop / top if top > 0 else np.zeros(n)
        keep = np.ones(n, dtype=bool) if self.mask is None else np.asarray(self.mask, dtype=bool)
        self._candidates = np.flatnonzero(keep)
        self._index = {sku: i for i, sku in enumerate(self.skus)}

    def similarities(self, users: np.ndarray) -> np.ndarray:
        """Cosine of every item to each row of ``users`` (unit-norm rows), one matrix product for all:
        row *j* is what :meth:`top` computes for user *j* alone, at a fraction of the cost."""
        return np.asarray(users, dtype=np.float32) @ self.item_matrix.T

    def top(
        self,
        user_vec: np.ndarray | None,
        k: int = 10,
        *,
        signals: Sequence[Signal] = (),
        exclude: Collection[str] = (),
        recent: Collection[str] = (),
        recent_limit: int = 0,
        sims: np.ndarray | None = None,
    ) -> list[Recommendation]:
        """The top ``k`` for ``user_vec``, best first (see :func:`rank`); ``sims``: its row of
        :meth:`similarities`, when computed for many users at once."""
        u = None if user_vec is None else np.asarray(user_vec, dtype=np.float32).ravel()
        u_norm = 0.0 if u is None else float(np.linalg.norm(u))
        w = self.similarity_weight if u_norm > 0 else 0.0
        if sims is None and u is not None and u_norm > 0:
            sims = self.item_matrix @ (u / u_norm)
        elif sims is None:
            sims = np.zeros(len(self.skus), np.float32)
        if w not in self._pop_parts:
            self._pop_parts[w] = (1.0 - w) * self._pop
        sim_part, pop_part = w * sims.astype(np.float64), self._pop_parts[w]
        scores = sim_part + pop_part
        chosen = self._choose(scores, k, self._rows(exclude), self._rows(recent), recent_limit)
        closest = self._closest_signals(chosen, signals)
        out = []
        for i, signal in zip(chosen, closest, strict=True):
            if w > 0 and sim_part[i] >= pop_part[i] and signal is not None:
                kind, text = signal.kind, signal_text(signal)
            elif w > 0 and sim_part[i] >= pop_part[i]:
                kind, text = "similar", SIMILAR_TEXT
            elif self.recent_orders is not None and self.recent_orders[i] >= 1:
                kind, text = (
                    "trending",
                    f"trending: {int(self.recent_orders[i])} sold in the last {self.window_minutes} min",
                )
            else:
                kind, text = "popular", "popular in this sale"
            out.append(Recommendation(self.skus[i], float(scores[i]), text, kind))
        return out

    def _rows(self, skus: Collection[str]) -> set[int]:
        return {self._index[sku] for sku in skus if sku in self._index}

    def _choose(
        self, scores: np.ndarray, k: int, excluded: set[int], recent: set[int], limit: int
    ) -> list[int]:
        """The rows of the list: best first, never excluded, at most ``limit`` recent ones unless the
        list would otherwise be short of ``k`` (then they follow the rest)."""
        cand = self._candidates
        wanted = min(k + len(excluded) + len(recent), cand.size)
        if wanted <= 0 or k <= 0:
            return []
        best = cand[np.argpartition(-scores[cand], wanted - 1)[:wanted]]
        best = best[np.lexsort((best, -scores[best]))]  # ties broken by position: deterministic output
        chosen: list[int] = []
        held_back: list[int] = []
        for i in (int(i) for i in best):
            if i in excluded:
                continue
            if i in recent and sum(j in recent for j in chosen) >= limit:
                held_back.append(i)
                continue
            chosen.append(i)
            if len(chosen) == k:
                return chosen
        return [*chosen, *held_back[: k - len(chosen)]]  # short of new ones: recent ones fill it, after

    def _closest_signals(self, rows: Sequence[int], signals: Sequence[Signal]) -> list[Signal | None]:
        """For each item row, the user's signal whose vector is closest to it (None without signals)."""
        if not signals or not rows:
            return [None] * len(rows)
        closeness = np.stack([s.vector for s in signals]) @ self.item_matrix[list(rows)].T
        return [signals[int(j)] for j in np.argmax(closeness, axis=0)]
