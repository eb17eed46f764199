"""The stream's user path ranks exactly like its in-process twin: a small simulated sale's clicks and
orders through :class:`UserProcessor` (a stand-in encoder, statuses from the per-SKU maths as each
minute closes) give the very lists, reasons included, that :class:`ShadowRecommender` records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from faust.types import TP

from models.sim.evaluation import AdaptivePolicy
from models.sim.market import FlashSaleMarket, ScenarioConfig, SimEvent
from models.sim.recommendation_evaluation import ShadowRecommender, standin_vector
from streams.app import create_app
from streams.contracts.decoding import decode
from streams.contracts.records import CatalogItem, Click, Order
from streams.runtime.tablestate import state_table
from streams.runtime.tenure import Ownership, Tenure
from streams.settings import Settings
from streams.users.catalog_view import CatalogView
from streams.users.processor import UserProcessor
from streams.users.state import USER_POSITIONS, USER_SLOTS
from tests.streams.test_user_processor import Recorder, event

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


class StandinScorer:
    """Titles and queries as the twin's stand-in vectors (hashed words)."""

    dim = 64
    model_name = "standin"

    def __init__(self) -> None:
        self.query_cache = SimpleNamespace(misses=0)

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([standin_vector(t) for t in texts])

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        return self.encode_batch(queries)


def sale() -> tuple[ScenarioConfig, list[SimEvent], list[list[SimEvent]]]:
    config = ScenarioConfig(
        seed=3, n_users=40, n_skus=10, duration_minutes=24, campaign_offset_minutes=2, campaign_minutes=20,
        sessions_per_minute=12.0, restock_lead_minutes=3,
    )  # fmt: skip
    market = FlashSaleMarket(config)
    opening = market.initial_events()
    return config, opening, [market.step(1) for _ in range(config.duration_minutes)]


async def test_the_stream_lists_what_the_twin_lists_for_the_same_events(tmp_path: Path) -> None:
    config, opening, minutes = sale()
    app = create_app(Settings(data_dir=tmp_path), web=False)
    view = CatalogView()
    view.attach(StandinScorer())  # type: ignore[arg-type]
    catalog = [e.value for e in opening if e.topic == "catalog"]
    items = [decode(CatalogItem, json.dumps(v).encode(), now=FAR_FUTURE) for v in catalog]
    view.apply_catalog(items)
    sent: list[SimpleNamespace] = []
    processor = UserProcessor(
        state_table(app.app, "users", USER_SLOTS),
        state_table(app.app, "user-positions", USER_POSITIONS),
        view,
        app.settings,
        lambda: Recorder(sent),
        "recommendations",
    )
    held = frozenset({TP("clicks", 0), TP("orders", 0)})
    tenure = Tenure(Ownership(app.app), 0, held, dict.fromkeys(held, 0), app.app.consumer_generation_id)
    twin = ShadowRecommender(
        {v["sku"]: standin_vector(v["title"]) for v in catalog}, k=app.settings.recommendations_k
    )
    skus = AdaptivePolicy()  # the per-SKU maths: sku-status as each minute closes
    twin.observe(opening)
    skus.observe(opening, config.start)
    offsets = {"clicks": 0, "orders": 0}
    for m, events in enumerate(minutes):
        twin.observe(events)
        for topic, _, value in events:
            if topic in offsets:
                record = decode(
                    Click if topic == "clicks" else Order, json.dumps(value).encode(), now=FAR_FUTURE
                )
                agent = "user-clicks" if topic == "clicks" else "user-orders"
                await processor.process(agent, [event(record, topic, offsets[topic])], None, tenure)
                offsets[topic] += 1
        closed = config.minute_start(m + 1)
        skus.observe(events, closed)
        for sku, state in skus.states.items():
            view.note_status(sku, state.status(), closed.timestamp())
    published = [json.loads(s.value) for s in sent if s.topic == "recommendations"]
    stream = {(r["user_id"], r["source_event_id"]): lists_of(r["items"]) for r in published}
    assert len(published) == len(stream) > 100
    assert stream == twin.lists
    assert {kind for ranked in stream.values() for _, kind, _ in ranked} >= {"viewed", "searched", "trending"}


def lists_of(items: list[dict[str, Any]]) -> tuple[tuple[str, str, str], ...]:
    return tuple((i["sku"], i["reason_kind"], i["reason"]) for i in items)
