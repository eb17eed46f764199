"""Producing bench load: simulator events flat out (event time kept) or at a rate, stamped with now.

Stamped events carry the wall-clock send time as Kafka timestamp and as their ``ts`` (catalog items
also a campaign that is live now), so event → output latency is output arrival minus ``sent_at``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer
from tqdm import tqdm

from models.sim.market import FlashSaleMarket, ScenarioConfig, SimEvent, iso, timestamp_ms
from streams.runtime.admin import client_config
from streams.settings import Settings

BASE_EVENTS = 53_000  # events of the default 120-minute scenario; the bench scales its traffic from it


def simulator_events(n: int, seed: int = 7) -> list[SimEvent]:
    """The first ``n`` events of a seeded sale (catalog and opening stock first), traffic scaled to ``n``.

    >>> events = simulator_events(500)
    >>> len(events), events[0].topic
    (500, 'catalog')
    """
    scale = max(1.0, 1.1 * n / BASE_EVENTS)
    market = FlashSaleMarket(ScenarioConfig(seed=seed, sessions_per_minute=100.0 * scale))
    events = market.initial_events()
    while len(events) < n and not market.done:
        events += market.step(1)
    return events[:n]


def stamp(value: dict[str, Any], now: float) -> dict[str, Any]:
    """A copy of an event value as if it happened at ``now`` (epoch s); campaigns live ±1 h around it.

    >>> v = stamp({"sku": "A", "ts": "2026-01-01T00:00:00+00:00"}, 0.0)
    >>> v["ts"]
    '1970-01-01T00:00:00.000000+00:00'
    """
    out = dict(value)
    for name in ("ts", "updated_at"):
        if name in out:
            out[name] = iso(datetime.fromtimestamp(now, UTC))
    if out.get("campaign"):
        campaign = dict(out["campaign"])
        campaign["starts_at"] = iso(datetime.fromtimestamp(now - 3600, UTC))
        campaign["ends_at"] = iso(datetime.fromtimestamp(now + 3600, UTC))
        out["campaign"] = campaign
    return out


class Producer:
    """Batched kafka-python producer (acks=all), as event producers run it."""

    def __init__(self, settings: Settings, linger_ms: int = 20, burst_s: float = 0.01) -> None:
        self.settings = settings
        # At a rate, events go out in bursts this far apart: sent one by one, 700 events/s took this
        # process 0.57 of a core (kafka-python wakes its sender for each), in 10 ms bursts 0.25.
        self.burst_s = burst_s
        self.producer = KafkaProducer(
            **client_config(settings), acks="all", linger_ms=linger_ms, batch_size=1 << 18
        )

    def send_all(self, events: list[SimEvent], desc: str = "produce") -> None:
        """Every event, flat out, with its own event time as Kafka timestamp; waits for the broker."""
        for event in tqdm(events, desc=desc, unit="ev", file=sys.stderr, mininterval=0.5, leave=False):
            topic, key, value = event
            raw = json.dumps(value, separators=(",", ":")).encode()
            self.producer.send(
                self.settings.topic(topic), key=key.encode(), value=raw, timestamp_ms=timestamp_ms(event)
            )
        self.producer.flush()

    def send_stamped(
        self, events: Iterable[SimEvent], rate: float | None, duration_s: float | None, desc: str
    ) -> dict[str, float]:
        """Events stamped with their send time, at ``rate`` events/s (None: flat out), until the events
        or ``duration_s`` run out. Returns ``event_id → sent_at`` (epoch s) of the events that have one.
        """
        sent_at: dict[str, float] = {}
        started = time.monotonic()
        total = int(rate * duration_s) if rate and duration_s else None
        bar = tqdm(total=total, desc=desc, unit="ev", file=sys.stderr, mininterval=0.5, leave=False)
        for sent, (topic, key, value) in enumerate(events):
            elapsed = time.monotonic() - started
            if duration_s is not None and elapsed >= duration_s:
                break
            if rate:
                ahead = sent / rate - elapsed
                if ahead > 0:  # and those due within the next burst_s go out together
                    time.sleep(ahead + self.burst_s)
            now = time.time()
            stamped = stamp(value, now)
            raw = json.dumps(stamped, separators=(",", ":")).encode()
            self.producer.send(
                self.settings.topic(topic), key=key.encode(), value=raw, timestamp_ms=int(now * 1000)
            )
            if stamped.get("event_id"):
                sent_at[stamped["event_id"]] = now
            bar.update(1)
        bar.close()
        self.producer.flush()
        return sent_at

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()
