"""``flashsale simulate``: the simulated flash sale published to Kafka, optionally in a closed loop.

Every market event goes to its contract topic (Kafka timestamp = event time). In the closed loop a
group-less consumer reads ``restock``, ``discount-adjustments`` and ``recommendations`` from where they
ended when the run began and applies them to the market at their ``ts``. The worker can decide on
minute *m* only once minute *m+1* is published (its watermark must pass the bucket's end), so after
each minute the loop waits, at most ``wait_s``, for the decisions of the minute before; an in-process
shadow of the per-SKU maths (:class:`models.sim.evaluation.AdaptivePolicy`) says which ones are due. When
they all arrive in time the run equals its in-process twin (:func:`models.sim.twin.run_twin`: the
adaptive policy in process, shown the same recommendation lists at the same minutes).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from tqdm import tqdm

from models.experiment.evaluation import ExperimentRecorder
from models.experiment.tally import Estimate
from models.ids import to_epoch
from models.sim.evaluation import AdaptivePolicy
from models.sim.events import event_time
from models.sim.ledger import Ledger
from models.sim.market import FlashSaleMarket, ScenarioConfig, SimEvent, timestamp_ms
from models.sim.recommendation_evaluation import Listed, Order, Shown
from streams.contracts.topics import DISCOUNTS, RECOMMENDATIONS, RESTOCK
from streams.runtime.admin import client_config, ensure_topics
from streams.settings import Settings
from streams.skus.processor import sku_policy

DECISION_ORDER = {RESTOCK: 0, DISCOUNTS: 1, RECOMMENDATIONS: 2}


def scenario(seed: int = 7, minutes: int = 120, users: int = 2000, skus: int = 40) -> ScenarioConfig:
    """A scenario of ``minutes``: the campaign runs through the middle half, lead time ≤ 15 min."""
    if minutes == ScenarioConfig.duration_minutes:
        return ScenarioConfig(seed=seed, n_users=users, n_skus=skus)
    return ScenarioConfig(
        seed=seed, n_users=users, n_skus=skus, duration_minutes=minutes,
        campaign_offset_minutes=max(minutes // 4, 1), campaign_minutes=max(minutes // 2, 1),
        restock_lead_minutes=min(15, max(minutes // 8, 1)),
    )  # fmt: skip


@dataclass
class SimulationRun:
    """What a run published, received and applied, and the market's ledger."""

    ledger: Ledger
    published: Counter[str] = field(default_factory=Counter)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)  # event_id → restock/discount value
    applied: Counter[str] = field(default_factory=Counter)
    # Ids the in-process shadow decided, but the last minute's: no later event moves the worker's
    # watermark past that minute, so those are never due and are only counted, in ``last_minute``.
    in_process: set[str] = field(default_factory=set)
    last_minute: int = 0
    expected: int = 0  # due decisions the closed loop waited for (those of ``in_process``)
    missing: int = 0  # of ``expected``, not seen before the loop moved on
    late: int = 0  # applied one or more minutes after they were due
    shown: list[Shown] = field(default_factory=list)
    lists: dict[tuple[str, str], tuple[Listed, ...]] = field(default_factory=dict)  # (user, source event)
    # The lists applied to the market, per minute of the market when applied (the twin replays them).
    applied_lists: dict[int, list[tuple[str, tuple[str, ...], datetime]]] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    # With a holdout: the shadow's experiment estimates on the events published (every closed campaign
    # bucket; the stream closes a bucket only once a later event moves its watermark past it).
    experiment: list[Estimate] = field(default_factory=list)
    steps: list[list[SimEvent]] = field(default_factory=list)  # every batch published, in order
    wall_s: float = 0.0


class Publisher:
    """Batched, idempotent producer (acks=all) that holds a target rate (events/s; None: flat out)."""

    def __init__(self, settings: Settings, rate: float | None) -> None:
        self.settings, self.rate, self.sent = settings, rate, 0
        self.producer = KafkaProducer(**client_config(settings), acks="all", linger_ms=20, batch_size=1 << 18)
        self.started = time.monotonic()

    def send(self, events: list[SimEvent]) -> None:
        for topic, key, value in events:
            if self.rate and self.sent % 100 == 0:
                ahead = self.sent / self.rate - (time.monotonic() - self.started)
                if ahead > 0:
                    time.sleep(ahead)
            raw = json.dumps(value, separators=(",", ":")).encode()
            ms = timestamp_ms(SimEvent(topic, key, value))
            self.producer.send(self.settings.topic(topic), key=key.encode(), value=raw, timestamp_ms=ms)
            self.sent += 1

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


class DecisionFeed:
    """Reads the decision and recommendation topics of this namespace from their current end."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
        self.names = {settings.topic(t): t for t in DECISION_ORDER}
        parts = [
            TopicPartition(name, p) for name in self.names for p in self.consumer.partitions_for_topic(name)
        ]
        self.consumer.assign(parts)
        self.consumer.seek_to_end()
        for tp in parts:  # resolve the end offsets now, before anything of this run is published
            self.consumer.position(tp)

    def poll(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        batches = self.consumer.poll(timeout_ms=int(timeout_s * 1000))
        return [(self.names[r.topic], json.loads(r.value)) for rs in batches.values() for r in rs]

    def close(self) -> None:
        self.consumer.close()


class ClosedLoop:
    """Applies the pipeline's decisions to the market, once each, in a deterministic order."""

    def __init__(self, market: FlashSaleMarket, run: SimulationRun) -> None:
        self.market, self.run = market, run
        self.inbox: list[tuple[str, dict[str, Any]]] = []
        self.seen_recs: set[tuple[str, str]] = set()

    def receive(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        for topic, value in items:
            if topic == RECOMMENDATIONS:
                key = (value["user_id"], value["source_event_id"])
                if key in self.seen_recs:
                    continue
                self.seen_recs.add(key)
                skus = tuple(item["sku"] for item in value["items"])
                self.run.shown.append((event_time(value), value["user_id"], skus))
                self.run.lists[key] = tuple((i["sku"], i["reason_kind"], i["reason"]) for i in value["items"])
            elif value["event_id"] in self.run.decisions:
                continue  # at-least-once: a redelivered decision
            else:
                self.run.decisions[value["event_id"]] = value
            self.inbox.append((topic, value))

    def apply(self) -> None:
        m = self.market
        for topic, v in sorted(
            self.inbox, key=lambda i: (event_time(i[1]), DECISION_ORDER[i[0]], i[1].get("sku", ""))
        ):
            ts = datetime.fromisoformat(v["ts"])
            if topic == RESTOCK:
                m.apply_restock(v["sku"], v["quantity"], ts)
            elif topic == DISCOUNTS:
                m.apply_discount(v["sku"], v["new_discount"], ts)
            else:
                skus = tuple(i["sku"] for i in v["items"])
                m.apply_recommendations(v["user_id"], list(skus), ts)
                self.run.applied_lists.setdefault(m.minute, []).append((v["user_id"], skus, ts))
            self.run.applied[topic] += 1
            self.run.late += topic != RECOMMENDATIONS and ts < m.config.minute_start(m.minute - 1)
        self.inbox.clear()


def simulate(
    settings: Settings,
    config: ScenarioConfig,
    rate: float | None = None,
    closed_loop: bool = True,
    wait_s: float = 5.0,
    progress: bool = True,
) -> SimulationRun:
    """Publish the whole sale (and run the closed loop); returns what happened."""
    ensure_topics(settings)
    market, started = FlashSaleMarket(config), time.monotonic()
    run = SimulationRun(ledger=market.ledger())
    shadow, loop = AdaptivePolicy(sku_policy(settings)), ClosedLoop(market, run)
    experiment = ExperimentRecorder(shadow, settings.holdout_pre_minutes) if settings.holdout_share else None
    feed = DecisionFeed(settings) if closed_loop else None
    publisher = Publisher(settings, rate)
    bar = tqdm(total=config.duration_minutes, unit="min", desc="sale", file=sys.stderr, disable=not progress)
    due: set[str] = set()
    try:
        events = market.initial_events()
        while True:
            publisher.send(events)
            publisher.producer.flush()
            run.published.update(e.topic for e in events)
            run.steps.append(events)
            run.orders += [
                (event_time(v), v["user_id"], v["sku"], v["quantity"]) for t, _, v in events if t == "orders"
            ]
            taken = {d.fields["event_id"] for d in shadow.observe(events, market.now)}
            run.in_process |= taken
            if experiment is not None:
                experiment.record(to_epoch(market.now))
            if feed is not None:
                deadline = time.monotonic() + wait_s
                while not due <= run.decisions.keys() and time.monotonic() < deadline:
                    loop.receive(feed.poll(0.05))
                loop.receive(feed.poll(0))
                run.expected += len(due)
                run.missing += len(due - run.decisions.keys())
                loop.apply()
            due = taken
            bar.set_postfix(events=publisher.sent, decisions=sum(run.applied.values()), refresh=False)
            if market.done:
                break
            events = market.step(1)
            bar.update(1)
    finally:
        bar.close()
        publisher.close()
        if feed is not None:
            feed.close()
    run.in_process -= due
    run.last_minute = len(due)
    run.experiment = experiment.estimates if experiment is not None else []
    run.ledger, run.wall_s = market.ledger(), time.monotonic() - started
    return run


def summary_lines(run: SimulationRun, closed_loop: bool) -> list[str]:
    """What ``flashsale simulate`` prints at the end."""
    published = ", ".join(f"{n} {t}" for t, n in sorted(run.published.items()))
    lines = [f"published {sum(run.published.values())} events in {run.wall_s:.1f} s ({published})"]
    if closed_loop:
        applied = ", ".join(f"{n} {t}" for t, n in sorted(run.applied.items())) or "nothing"
        missed = f"{run.missing} of {run.expected} due decisions missed the wait"
        lines.append(f"applied {applied}; {missed}, {run.late} applied late")
    return [*lines, json.dumps(run.ledger.summary())]
