"""Shoppers of the simulated sale: who visits in a minute, what they look at, who wants to buy.

Everything for one minute is drawn at once from a generator seeded by ``(seed, minute)`` in a fixed
shape, so decisions (discounts, recommendations) move thresholds but never the draws themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.sim.truth import QUANTITY_PROBS, MarketTruth

_QTY_CUTS = np.cumsum(QUANTITY_PROBS)[:-1]
_SESSION_START_S = 40.0  # sessions start in the first 40 s so their last step stays in the minute
_MAX_GAP_S = 4.0  # between two steps of a session: 0.5 s .. 4.5 s
_DRAWS = 16  # uniforms per session; fixed so that runs under different decisions stay paired


@dataclass(frozen=True)
class Sessions:
    """One minute of sessions, before stock is checked; arrays are one entry per session."""

    users: np.ndarray
    sku: np.ndarray
    recommended: np.ndarray  # the session followed a recommendation list
    searched: np.ndarray
    query_pick: np.ndarray  # uniform in [0, 1): which of the SKU's queries was typed
    clicked: np.ndarray
    wants_cart: np.ndarray
    intent: np.ndarray  # would order if in stock
    quantity: np.ndarray
    at_us: np.ndarray  # sessions × 5 offsets (µs into the minute) of the session's successive steps


class Recommendations:
    """Ranked lists shown to users, live from a minute for ``ttl`` minutes."""

    def __init__(self, n_users: int, ttl: int) -> None:
        self.ttl = ttl
        self.lists: dict[int, np.ndarray] = {}
        self.live_from = np.zeros(n_users, dtype=np.int64)
        self.live_until = np.zeros(n_users, dtype=np.int64)

    def show(self, user: int, items: np.ndarray, minute: int) -> None:
        self.lists[user] = items
        self.live_from[user] = minute
        self.live_until[user] = minute + self.ttl

    def follow(
        self, truth: MarketTruth, minute: int, users: np.ndarray, sku: np.ndarray, u: np.ndarray, p: float
    ) -> np.ndarray:
        """Sessions whose user has a live list follow it with chance ``p``; overwrites ``sku`` there."""
        if not self.lists:
            return np.zeros(len(users), dtype=bool)
        live = (self.live_from[users] <= minute) & (self.live_until[users] > minute)
        follow = live & (u[0] < p)
        for j in np.flatnonzero(follow):
            items = self.lists[users[j]]
            # Higher ranks and items that match the user's taste are picked more often.
            weights = (truth.affinity(users[j : j + 1], items) + 0.2) / np.arange(1, len(items) + 1)
            cdf = np.cumsum(weights) / weights.sum()
            sku[j] = items[min(int(np.searchsorted(cdf, u[1, j], side="right")), len(items) - 1)]
        return follow


def choose_skus(truth: MarketTruth, users: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Organic choice: a category from the user's taste, then a SKU by popularity within it."""
    n_cats = len(truth.cat_members)
    cats = np.minimum((truth.preference_cdf[users] < u[0][:, None]).sum(axis=1), n_cats - 1)
    sku = np.zeros(len(users), dtype=np.int64)
    for ci, members in enumerate(truth.cat_members):
        mask = cats == ci
        pick = np.searchsorted(truth.cat_cdf[ci], u[1][mask], side="right")
        sku[mask] = members[np.minimum(pick, len(members) - 1)]
    return sku


def draw_sessions(truth: MarketTruth, minute: int, live: np.ndarray, recs: Recommendations) -> Sessions:
    """Sessions of ``minute`` with the per-SKU discount ``live`` in force."""
    c = truth.config
    rng = np.random.default_rng([c.seed, 2, minute])
    weight = truth.category_weight
    peak = 1.0 if weight is None else float(weight[minute].max())
    n = int(rng.poisson(truth.sessions[minute] if weight is None else truth.sessions[minute] * peak))
    u = rng.random((_DRAWS, n))
    users = np.minimum(np.searchsorted(truth.activity_cdf, u[0], side="right"), c.n_users - 1)
    sku = choose_skus(truth, users, u[1:3])
    if weight is not None:  # thinning: a category away from its own peak keeps fewer of its sessions
        keep = rng.random(n) * peak < weight[minute, truth.sku_category[sku]]
        u, users, sku, n = u[:, keep], users[keep], sku[keep], int(keep.sum())
    rec = recs.follow(truth, minute, users, sku, u[3:5], c.p_follow_recommendation)
    # A list that matches the user's taste lifts clicks and orders; a poor match depresses them.
    affinity = truth.affinity(users, sku)
    p_click = np.where(rec, np.minimum(0.95, c.p_click * (0.5 + 1.5 * affinity)), c.p_click)
    lift = np.where(rec, 0.7 + 0.6 * affinity, 1.0)
    p_buy = np.minimum(c.max_buy, truth.buy_probability(live)[sku] * lift)
    clicked = u[7] < p_click
    wants_cart = clicked & (u[8] < c.p_cart)
    gaps = np.cumsum((0.5 + _MAX_GAP_S * u[12:16]) * 1e6, axis=0)
    at = u[11] * _SESSION_START_S * 1e6 + np.vstack([np.zeros(n), gaps])
    return Sessions(
        users=users,
        sku=sku,
        recommended=rec,
        searched=u[5] < c.p_search,
        query_pick=u[6],
        clicked=clicked,
        wants_cart=wants_cart,
        intent=wants_cart & (u[9] < p_buy),
        quantity=1 + (u[10] >= _QTY_CUTS[0]) + (u[10] >= _QTY_CUTS[1]),
        at_us=at.T.astype(np.int64),
    )
