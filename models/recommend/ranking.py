"""Rank live campaign SKUs for a user: what they are likely to come to next, that they have not seen.

The score of an item is a mixture of three estimates of the chance that it is the user's next find:

- **taste** (weight ``1 - query_weight - similarity_weight``): the user's share of visits to the item's
  category, smoothed towards the sale's own category shares (a Dirichlet prior of ``prior_weight``
  visits), times the item's share of its category's sales — a popularity prior per user taste;
- **query** (``query_weight``, on a list answering a search): a softmax over the items' cosine to the
  query's vector;
- **similar** (``similarity_weight``, for a user with a vector): the taste estimate reweighted by a
  softmax over the items' cosine to the user's vector.

Each item's reason names the part that put it there: the user's latest interaction in its category,
their search, the interaction its vector is closest to, or its sales. Bought items are left out and
items touched lately are held to a share of the list (default none), so a list shows something new.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from models.recommend.reasons import Signal, category_signal, closest_signals, sales_reason, signal_text


@dataclass(frozen=True)
class RankParams:
    """The ranker's weights; chosen on simulated sales (seeds 1–10), see ``docs/recommendations.md``."""

    prior_weight: float = 6.0  # visits the sale's category shares count for in a user's taste
    query_weight: float = 0.3
    similarity_weight: float = 0.2
    query_temperature: float = 0.05
    similarity_temperature: float = 0.2
    smoothing: float = 0.5  # units added to every item's sales: unsold items still rank within a category


class Recommendation(NamedTuple):
    sku: str
    score: float
    reason: str  # a short text for people
    kind: str = "popular"  # one of REASON_KINDS, for services that render or translate it


def rank(
    user_vec: np.ndarray | None,
    item_matrix: np.ndarray,
    skus: Sequence[str],
    sales: np.ndarray,
    k: int = 10,
    *,
    categories: Sequence[str] | None = None,
    mask: np.ndarray | None = None,
    recent_orders: np.ndarray | None = None,
    taste: Mapping[str, float] | None = None,
    query: Signal | None = None,
    signals: Sequence[Signal] = (),
    exclude: Collection[str] = (),
    recent: Collection[str] = (),
    recent_limit: int = 0,
) -> list[Recommendation]:
    """Top ``k`` of ``skus`` for one user, each with a reason that is true.

    ``item_matrix`` rows are unit-norm item vectors aligned with ``skus``, ``sales`` their units sold
    so far and ``categories`` their catalogue categories (None: one category); ``mask`` (bool) keeps
    the candidates. The user: ``user_vec`` (None or zeros: none yet), ``taste`` (visits per category),
    ``query`` (a search this list answers), ``signals`` (their interactions, latest first, which
    reasons name), ``exclude`` (never listed: bought), ``recent`` (touched lately: at most
    ``recent_limit`` of them, more only when nothing else is left). To rank many users against the
    same items, build one :class:`Ranker` and call :meth:`Ranker.top`.

    Examples
    --------
    >>> items = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], dtype=np.float32)
    >>> viewed = Signal("viewed", "Sony WH-1000XM5", np.array([1.0, 0.0]), "audio")
    >>> recs = rank(None, items, ["a", "b", "c"], np.array([3.0, 1.0, 9.0]), k=2,
    ...             categories=["audio", "audio", "kitchen"], recent_orders=np.array([0, 0, 9]),
    ...             taste={"audio": 5.0}, signals=[viewed], exclude={"a"})
    >>> for r in recs:  # "a" was bought: never listed
    ...     print(r.sku, r.kind, r.reason)
    c trending trending: 9 sold in the last 10 min
    b viewed because you viewed Sony WH-1000XM5
    """
    ranker = Ranker(item_matrix, skus, sales, categories, mask=mask, recent_orders=recent_orders)
    return ranker.top(
        user_vec, k, taste=taste, query=query, signals=signals, exclude=exclude, recent=recent,
        recent_limit=recent_limit,
    )  # fmt: skip


@dataclass
class Ranker:
    """:func:`rank` for one set of items: what does not depend on the user is computed once."""

    item_matrix: np.ndarray
    skus: Sequence[str]
    sales: np.ndarray
    categories: Sequence[str] | None = None
    mask: np.ndarray | None = None
    recent_orders: np.ndarray | None = None
    window_minutes: int = 10
    params: RankParams = field(default_factory=RankParams)
    _keep: np.ndarray = field(init=False, repr=False)  # bool per row: a candidate
    _candidates: np.ndarray = field(init=False, repr=False)  # indices the mask keeps
    _index: dict[str, int] = field(init=False, repr=False)  # sku → row
    _category: np.ndarray = field(init=False, repr=False)  # row → category number
    _names: list[str] = field(init=False, repr=False)  # category number → name
    _prior: np.ndarray = field(init=False, repr=False)  # category number → share of the sale's units
    _within: np.ndarray = field(init=False, repr=False)  # row → share of its category's units
    _queries: dict[str, np.ndarray] = field(init=False, repr=False, default_factory=dict)  # query → softmax

    def __post_init__(self) -> None:
        n = len(self.skus)
        if self.item_matrix.shape[0] != n or self.sales.shape != (n,):
            raise ValueError("item_matrix rows, skus and sales must align")
        self._keep = np.ones(n, dtype=bool) if self.mask is None else np.asarray(self.mask, dtype=bool)
        self._candidates = np.flatnonzero(self._keep)
        self._index = {sku: i for i, sku in enumerate(self.skus)}
        names, self._category = np.unique(
            np.asarray(self.categories if self.categories is not None else [""] * n, dtype=str),
            return_inverse=True,
        )
        self._names = [str(c) for c in names]
        units = (np.maximum(self.sales.astype(np.float64), 0.0) + self.params.smoothing) * self._keep
        per_category = np.bincount(self._category, weights=units, minlength=len(names))
        total = per_category.sum()
        self._prior = per_category / total if total > 0 else per_category
        self._within = np.divide(units, per_category[self._category], out=np.zeros(n), where=units > 0)

    def similarities(self, users: np.ndarray) -> np.ndarray:
        """Cosine of every item to each row of ``users`` (unit-norm rows) in one matrix product: at 10⁴
        items a tenth of the cost of one product per user. :meth:`top` computes its own row the same
        way, so a user's list does not depend on who else was ranked with them."""
        return np.asarray(users, dtype=np.float32) @ self.item_matrix.T

    def top(
        self,
        user_vec: np.ndarray | None,
        k: int = 10,
        *,
        taste: Mapping[str, float] | None = None,
        query: Signal | None = None,
        signals: Sequence[Signal] = (),
        exclude: Collection[str] = (),
        recent: Collection[str] = (),
        recent_limit: int = 0,
        sims: np.ndarray | None = None,
    ) -> list[Recommendation]:
        """The top ``k`` for one user, best first (see :func:`rank`); ``sims``: the user's row of
        :meth:`similarities` when it was computed for many users at once."""
        parts = self._parts(user_vec, taste or {}, query, sims)
        scores = parts.sum(axis=0)
        chosen = self._choose(scores, k, self._rows(exclude), self._rows(recent), recent_limit)
        main = parts[:, chosen].argmax(axis=0).tolist() if chosen else []
        similar = [i for i, part in zip(chosen, main, strict=True) if part == 3]
        nearest = dict(zip(similar, closest_signals(self.item_matrix[similar], signals), strict=True))
        out = []
        for i, part in zip(chosen, main, strict=True):
            kind, text = nearest[i] if i in nearest else self._reason(i, part, query, signals)
            out.append(Recommendation(self.skus[i], float(scores[i]), text, kind))
        return out

    def _parts(
        self, user_vec: np.ndarray | None, taste: Mapping[str, float], query: Signal | None,
        sims: np.ndarray | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Rows: the user's own taste, the sale's prior, the query, the similar part; columns: items."""
        p = self.params
        visits = np.array([float(taste.get(name, 0.0)) for name in self._names])
        scale = 1.0 / (visits.sum() + p.prior_weight)
        own = np.take(visits * scale, self._category)
        prior = np.take(p.prior_weight * scale * self._prior, self._category)
        u = None if user_vec is None else np.asarray(user_vec, dtype=np.float32).ravel()
        u_norm = 0.0 if u is None else float(np.linalg.norm(u))
        w_query = p.query_weight if query is not None else 0.0
        w_similar = p.similarity_weight if u is not None and u_norm > 0 else 0.0
        w_taste = 1.0 - w_query - w_similar
        parts = np.zeros((4, len(self.skus)))  # rows written in place: at 10⁴ items copies count
        for row, share in ((0, own), (1, prior)):
            np.multiply(share, w_taste, out=parts[row])
            parts[row] *= self._within
        if query is not None:
            if query.label not in self._queries:  # users of one minute often search alike
                self._queries[query.label] = self._softmax(
                    self.item_matrix @ query.vector, p.query_temperature
                )
            parts[2] = w_query * self._queries[query.label]
        if u is not None and w_similar > 0:
            cosine = self.similarities((u / u_norm)[None])[0] if sims is None else sims
            similar = self._softmax(cosine, p.similarity_temperature)
            similar *= (own + prior) * self._within
            total = similar.sum()
            if total > 0:
                similar /= total
            np.multiply(similar, w_similar, out=parts[3])
        return parts

    def _softmax(self, cosine: np.ndarray, temperature: float) -> np.ndarray:
        """A softmax over the candidates (others get 0)."""
        every = self._candidates.size == len(self.skus)  # as in the stream: no copy in and out
        z = (cosine if every else cosine[self._candidates]).astype(np.float64) / temperature
        e = np.exp(z - z.max()) if z.size else z
        if every:
            return e / e.sum() if e.size else e
        out = np.zeros(len(self.skus))
        out[self._candidates] = e / e.sum() if e.size else e
        return out

    def _reason(self, i: int, part: int, query: Signal | None, signals: Sequence[Signal]) -> tuple[str, str]:
        """(kind, text) for item ``i`` listed mostly for ``part`` (see :meth:`_parts`; the similar
        part's are the signals closest to the items, found for all of them at once in :meth:`top`)."""
        if part == 2 and query is not None:
            return "searched", signal_text(query)
        mine = category_signal(self._names[self._category[i]], signals) if part == 0 else None
        if mine is not None:
            return mine.kind, signal_text(mine)
        recent = int(self.recent_orders[i]) if self.recent_orders is not None else 0
        return sales_reason(recent, int(max(self.sales[i], 0)), self.window_minutes)

    def choose(
        self,
        scores: np.ndarray,
        k: int,
        *,
        exclude: Collection[str] = (),
        recent: Collection[str] = (),
        recent_limit: int = 0,
    ) -> tuple[str, ...]:
        """The top ``k`` SKUs by any ``scores`` (one per row) under :meth:`top`'s rules: the lists a
        baseline (popularity) would show in the same place."""
        chosen = self._choose(scores, k, self._rows(exclude), self._rows(recent), recent_limit)
        return tuple(self.skus[i] for i in chosen)

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
        best = cand[best_rows(scores if cand.size == len(self.skus) else scores[cand], wanted)]
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


def best_rows(scores: np.ndarray, wanted: int) -> np.ndarray:
    """The positions of the ``wanted`` highest ``scores``, best first, ties by position.

    Exact, and at 5,000 scores a quarter of the time of ``np.argpartition``: split the scores into ``wanted``
    chunks; at least ``wanted`` scores reach the lowest chunk maximum, so the best ones are among those
    that reach it, usually a few times ``wanted``, which are then sorted.

    >>> best_rows(np.array([0.1, 0.7, 0.3, 0.7, 0.9, 0.2]), 3)
    array([4, 1, 3])
    """
    n = scores.size
    if wanted < n:
        chunks = np.full(-(-n // wanted) * wanted, -np.inf)
        chunks[:n] = scores
        rows = np.flatnonzero(scores >= chunks.reshape(wanted, -1).max(axis=1).min())
    else:
        rows = np.arange(n)
    return rows[np.argsort(-scores[rows], kind="stable")[:wanted]]
