"""A deterministic flash-sale market that emits ``catalog``/``clicks``/``orders``/``stock`` events.

The market steps through event time one minute at a time. Each minute's randomness comes from its own
generator seeded by ``(seed, minute)``, so runs under different decisions share their random draws
(common random numbers) and compare fairly. Decisions (discount, restock, recommendations) take effect
from the first whole minute at or after their ``ts``, never before the market's clock.

>>> config = ScenarioConfig(n_users=30, n_skus=8, duration_minutes=40, campaign_offset_minutes=10,
...                         campaign_minutes=20)
>>> market = FlashSaleMarket(config)
>>> first = market.initial_events()
>>> sorted({e.topic for e in first}), len(first)
(['catalog', 'stock'], 16)
>>> events = market.step(40)
>>> market.done, events[0].value["ts"] <= events[-1].value["ts"]
(True, True)
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime

import numpy as np

from models.sim.events import EventFactory, SimEvent, iso, timestamp_ms
from models.sim.ledger import Ledger, SkuOutcome
from models.sim.shoppers import Recommendations, Sessions, draw_sessions
from models.sim.truth import MarketTruth, ScenarioConfig

CLOSE_US = 59_999_999  # the last microsecond of a minute: when its closing stock is taken

__all__ = ["FlashSaleMarket", "ScenarioConfig", "SimEvent", "iso", "timestamp_ms"]


class FlashSaleMarket:
    """Users, stock and prices of one scenario, stepped through event time."""

    def __init__(self, config: ScenarioConfig) -> None:
        self.config = config
        self.truth = t = MarketTruth(config)
        n, horizon = config.n_skus, config.duration_minutes
        self.skus = [s.sku for s in t.catalog]
        self.user_ids = [f"u{i:05d}" for i in range(config.n_users)]
        self._sku_index = {s: i for i, s in enumerate(self.skus)}
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        self.minute = 0
        self.on_hand = t.initial_stock.copy()
        self.inbound = np.zeros(n, dtype=np.int64)
        self.discount = np.where(t.in_campaign, config.default_discount, 0.0)
        self._capacity_left = np.floor(config.restock_capacity * t.initial_stock).astype(np.int64)
        self._actions: defaultdict[int, list[tuple[str, int, float]]] = defaultdict(list)
        self._recs = Recommendations(config.n_users, config.recommendation_ttl_minutes)
        self._events = EventFactory(config.id_prefix, config.seed)
        self.events_by_topic: Counter[str] = Counter()
        self._rate = np.zeros((n, horizon))
        self._wanted = np.zeros((n, horizon), dtype=np.int64)
        self._sold = np.zeros((n, horizon), dtype=np.int64)
        self._live = np.zeros((n, horizon))
        self._on_hand_end = np.zeros((n, horizon), dtype=np.int64)
        self._revenue = np.zeros(n)
        self._lost = np.zeros(n, dtype=np.int64)
        self._stockout = np.zeros(n, dtype=np.int64)
        self._restocked = np.zeros(n, dtype=np.int64)
        self._arrived = np.zeros(n, dtype=np.int64)
        self._rec_sessions = 0
        self._rec_orders = 0

    @property
    def now(self) -> datetime:
        """Event time of the next minute to simulate."""
        return self.config.minute_start(self.minute)

    @property
    def done(self) -> bool:
        return self.minute >= self.config.duration_minutes

    def true_demand(self, sku: str, minute: int, discount: float) -> float:
        """Expected units of ``sku`` wanted in ``minute`` at ``discount`` (truth, no recommendations)."""
        return self.truth.true_demand(self._sku_index[sku], minute, discount)

    # --- decisions -------------------------------------------------------------------------------------

    def _effective_minute(self, ts: datetime | None) -> int:
        if ts is None:
            return self.minute
        return max(self.minute, math.ceil((ts - self.config.start).total_seconds() / 60.0))

    def apply_discount(self, sku: str, new_discount: float, ts: datetime | None = None) -> float | None:
        """Set the live discount (clamped to the campaign bounds); None for SKUs outside the campaign."""
        i = self._sku_index[sku]
        if not self.truth.in_campaign[i]:
            return None
        c = self.config
        d = float(min(max(new_discount, c.min_discount), c.max_discount))
        self._actions[self._effective_minute(ts)].append(("discount", i, d))
        return d

    def apply_restock(self, sku: str, quantity: int, ts: datetime | None = None) -> int:
        """Reorder: inbound now, on hand after the lead time; returns the units the supplier accepted."""
        i = self._sku_index[sku]
        accepted = int(min(max(int(quantity), 0), self._capacity_left[i]))
        if accepted:
            self._capacity_left[i] -= accepted
            self._actions[self._effective_minute(ts)].append(("order", i, accepted))
        return accepted

    def apply_recommendations(self, user_id: str, skus: list[str], ts: datetime | None = None) -> int:
        """Show ``user_id`` a ranked list; unknown users and SKUs are ignored. Returns SKUs kept."""
        u = self._user_index.get(user_id)
        items = np.array([self._sku_index[s] for s in skus if s in self._sku_index], dtype=np.int64)
        if u is None or not len(items):
            return 0
        self._recs.show(u, items, self._effective_minute(ts))
        return len(items)

    # --- events ----------------------------------------------------------------------------------------

    def _catalog(self, i: int, ts: str) -> SimEvent:
        c, s = self.config, self.truth.catalog[i]
        campaign = None
        if self.truth.in_campaign[i]:
            campaign = {
                "campaign_id": c.campaign_id,
                "starts_at": iso(c.minute_start(c.campaign_offset_minutes)),
                "ends_at": iso(c.minute_start(c.campaign_end_minute)),
                "discount": float(self.discount[i]),
                "min_discount": c.min_discount,
                "max_discount": c.max_discount,
                "restock_lead_minutes": c.restock_lead_minutes,
            }
        return self._events.catalog(s.sku, s.title, s.category, s.base_price, campaign, ts)

    def _stock(self, i: int, ts: str) -> SimEvent:
        return self._events.stock(self.skus[i], int(self.on_hand[i]), int(self.inbound[i]), ts)

    def initial_events(self) -> list[SimEvent]:
        """Catalogue and opening stock of every SKU at ``config.start``; publish these first, once."""
        ts = iso(self.config.start)
        events = [self._catalog(i, ts) for i in range(len(self.skus))]
        events += [self._stock(i, ts) for i in range(len(self.skus))]
        self._events.number(events)
        self.events_by_topic.update(e.topic for e in events)
        return events

    def step(self, minutes: int = 1) -> list[SimEvent]:
        """Simulate the next ``minutes`` of event time; events come back sorted by event time."""
        events: list[SimEvent] = []
        for _ in range(minutes):
            if self.done:
                break
            events += self._simulate_minute(self.minute)
            self.minute += 1
        self.events_by_topic.update(e.topic for e in events)
        return events

    # --- one minute ------------------------------------------------------------------------------------

    def _run_actions(self, m: int, ts: str, out: list[tuple[int, SimEvent]]) -> None:
        actions = self._actions.pop(m, [])
        lead = self.config.restock_lead_minutes
        k = 0
        while k < len(actions):  # a zero lead time appends an arrival to this very list
            kind, i, x = actions[k]
            k += 1
            if kind == "discount":
                self.discount[i] = x
                out.append((0, self._catalog(i, ts)))
                continue
            q = int(x)
            if kind == "order":
                self.inbound[i] += q
                self._restocked[i] += q
                (actions if lead == 0 else self._actions[m + lead]).append(("arrive", i, q))
            else:
                self.inbound[i] -= q
                self.on_hand[i] += q
                self._arrived[i] += q
            out.append((0, self._stock(i, ts)))

    def _simulate_minute(self, m: int) -> list[SimEvent]:
        c, t = self.config, self.truth
        prefix = c.minute_start(m).strftime("%Y-%m-%dT%H:%M:")
        out: list[tuple[int, SimEvent]] = []
        self._run_actions(m, prefix + "00.000000+00:00", out)
        live = np.where(t.in_campaign & c.in_campaign(m), self.discount, 0.0)
        self._live[:, m] = live
        self._rate[:, m] = t.demand_rate(m, live)
        self._sessions(m, live, prefix, out)
        if (m + 1) % c.stock_snapshot_minutes == 0:  # closing stock, after the minute's last order
            out += [(CLOSE_US, self._stock(i, prefix + "59.999999+00:00")) for i in range(len(self.skus))]
        self._on_hand_end[:, m] = self.on_hand
        self._stockout += self.on_hand == 0
        out.sort(key=lambda pair: pair[0])  # stable: same-time events keep their causal order
        return self._events.number([e for _, e in out])

    def _sessions(self, m: int, live: np.ndarray, prefix: str, out: list[tuple[int, SimEvent]]) -> None:
        s = draw_sessions(self.truth, m, live, self._recs)
        self._rec_sessions += int(s.recommended.sum())
        in_stock = self.on_hand[s.sku] > 0  # a sold-out page takes no carts and no orders this minute
        carted = s.wants_cart & in_stock

        def ts(us: int) -> str:
            return f"{prefix}{us // 1_000_000:02d}.{us % 1_000_000:06d}+00:00"

        click, catalog = self._events.click, self.truth.catalog
        users, skus, times = s.users.tolist(), s.sku.tolist(), s.at_us.tolist()
        buyers: list[tuple[int, int]] = []
        for j, (searched, clicked, cart, intent) in enumerate(
            zip(s.searched.tolist(), s.clicked.tolist(), carted.tolist(), s.intent.tolist(), strict=True)
        ):
            user, sku, at = self.user_ids[users[j]], self.skus[skus[j]], times[j]
            k = 0
            if searched:
                queries = catalog[skus[j]].queries
                query = queries[int(s.query_pick[j] * len(queries))]
                out.append((at[0], click(user, None, "search", query, ts(at[0]))))
                k = 1
            out.append((at[k], click(user, sku, "view", None, ts(at[k]))))
            for action, happened in (("click", clicked), ("add_to_cart", cart)):
                if not happened:
                    break
                k += 1
                out.append((at[k], click(user, sku, action, None, ts(at[k]))))
            if intent:
                buyers.append((at[k + 1], j))
        self._fill_orders(m, s, in_stock, live, buyers, ts, out)

    def _fill_orders(
        self,
        m: int,
        s: Sessions,
        in_stock: np.ndarray,
        live: np.ndarray,
        buyers: list[tuple[int, int]],
        ts: Callable[[int], str],
        out: list[tuple[int, SimEvent]],
    ) -> None:
        """First come, first served on the remaining stock; what cannot be filled is lost demand."""
        price = np.round(self.truth.base_price * (1.0 - live), 2)
        for offset, j in sorted(buyers):
            i, want = int(s.sku[j]), int(s.quantity[j])
            self._wanted[i, m] += want
            take = min(want, int(self.on_hand[i])) if in_stock[j] else 0
            self._lost[i] += want - take
            if not take:
                continue
            self.on_hand[i] -= take
            self._sold[i, m] += take
            self._revenue[i] += take * price[i]
            self._rec_orders += int(s.recommended[j])
            user = self.user_ids[int(s.users[j])]
            out.append((offset, self._events.order(user, self.skus[i], take, float(price[i]), ts(offset))))
            out.append((offset, self._stock(i, ts(offset))))

    # --- truth -----------------------------------------------------------------------------------------

    def ledger(self) -> Ledger:
        """Per-SKU truth over the minutes simulated so far."""
        t, c, done = self.truth, self.config, slice(0, self.minute)
        campaign = slice(c.campaign_offset_minutes, min(c.campaign_end_minute, self.minute))
        outcomes = []
        for i, s in enumerate(t.catalog):
            in_campaign = bool(t.in_campaign[i])
            window = self._live[i, campaign]
            outcomes.append(
                SkuOutcome(
                    sku=s.sku,
                    category=s.category,
                    base_price=s.base_price,
                    in_campaign=in_campaign,
                    elasticity=float(t.elasticity[i]),
                    initial_stock=int(t.initial_stock[i]),
                    units_sold=int(self._sold[i].sum()),
                    revenue=round(float(self._revenue[i]), 2),
                    lost_units=int(self._lost[i]),
                    stockout_minutes=int(self._stockout[i]),
                    restocked_units=int(self._restocked[i]),
                    arrived_units=int(self._arrived[i]),
                    leftover=int(self.on_hand[i]),
                    mean_campaign_discount=float(window.mean()) if in_campaign and window.size else 0.0,
                )
            )
        return Ledger(
            skus=tuple(outcomes),
            demand_rate=self._rate[:, done].copy(),
            wanted=self._wanted[:, done].copy(),
            sold=self._sold[:, done].copy(),
            discount=self._live[:, done].copy(),
            on_hand=self._on_hand_end[:, done].copy(),
            events_by_topic=dict(self.events_by_topic),
            recommended_sessions=self._rec_sessions,
            recommended_orders=self._rec_orders,
        )
