"""A backfill published with kcat, which cannot set Kafka timestamps, through a worker in payload time.

The scripted sale happened in an hour more than a day ago; kcat (``-P -K:``, key:value lines) stamps
every message with the time it sends it. With ``FLASHSALE_EVENT_TIME=payload`` the worker decides
exactly what a clean run in the sale's own event time decides: the same decision ids (their buckets
are the payload times' minutes), one recommendation per click (the debounce runs on payload time:
on send time, all but a few clicks would fall within one 5 s debounce), and no dead letter. The
same records under the contract (``kafka``) are every one refused as lying about their time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.contracts.decoding import InvalidEvent, decode
from streams.contracts.eventtime import KAFKA_TIME, MAX_SKEW
from streams.contracts.records import RECORDS_BY_TOPIC
from streams.runtime.admin import ensure_topics
from streams.settings import Settings

pytestmark = pytest.mark.e2e

INPUTS = ("catalog", "stock", "orders", "clicks")


def kcat_path() -> str:
    """kcat's path. A missing kcat skips, saying how to get it: in CI, where ``.ci/run`` installs it,
    tests/conftest.py turns that skip of an e2e test into a failure."""
    found = shutil.which("kcat")
    if found is None:
        pytest.skip("kcat is not installed: apt-get install -y --no-install-recommends kcat")
    return found


def kcat_produce(kcat: str, bootstrap: str, topic: str, lines: list[bytes]) -> None:
    """Publish ``key:value`` lines as a user would: ``kcat -P -K:``, no timestamps given."""
    done = subprocess.run(
        [kcat, "-P", "-b", bootstrap, "-t", topic, "-K:"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


@pytest.fixture
def backfill(e2e: Any) -> Any:
    """The scripted sale, in an hour 26 to 27 hours ago: further behind than the contract's 1-day skew."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=27)
    return e2e.script_sale(hour)


def test_kcat_backfill_is_decided_in_payload_time(
    settings: Settings,
    kafka_bootstrap: str,
    db_schema: str,
    backfill: Any,
    start_worker: Callable,
    read_topic: Callable,
    decision_rows: Callable,
    e2e: Any,
) -> None:
    kcat, sale = kcat_path(), backfill
    payload_settings = settings.model_copy(update={"event_time": "payload"})
    ensure_topics(settings)
    sent_after = time.time()
    for topic in INPUTS:
        lines = [m.key + b":" + m.value for m in sale.of(topic)]
        kcat_produce(kcat, kafka_bootstrap, settings.topic(topic), lines)

    # kcat stamped the send time; the contract refuses every record, payload time takes every one.
    payload_time = payload_settings.event_time_policy()
    for topic in INPUTS:
        records = read_topic(settings, topic).to_end()
        assert sorted((r.key, r.value) for r in records) == sorted((m.key, m.value) for m in sale.of(topic))
        for r in records:
            assert r.timestamp / 1000 >= sent_after - 1  # the send time, not the event's
            with pytest.raises(InvalidEvent, match="away from the Kafka timestamp"):
                decode(RECORDS_BY_TOPIC[topic], r.value, r.timestamp / 1000, event_time=KAFKA_TIME)
            decode(RECORDS_BY_TOPIC[topic], r.value, r.timestamp / 1000, event_time=payload_time)

    start_worker(payload_settings)
    expected = e2e.replay_decisions(sale.messages, payload_settings)  # event time = the payload's
    assert expected["restock"] and expected["discount"]
    restock_topic = read_topic(settings, "restock")
    discount_topic = read_topic(settings, "discount-adjustments")
    restock_topic.until(lambda rs: len(e2e.decisions_of(rs)) >= len(expected["restock"]))
    discount_topic.until(lambda rs: len(e2e.decisions_of(rs)) >= len(expected["discount"]))
    restocks = e2e.decisions_of(restock_topic.to_end())
    discounts = e2e.decisions_of(discount_topic.to_end())
    assert restocks == expected["restock"] and discounts == expected["discount"]
    assert e2e.row_decisions(decision_rows(db_schema, "restock", len(restocks))) == restocks
    assert e2e.row_decisions(decision_rows(db_schema, "discount", len(discounts))) == discounts
    hour_end = sale.start + timedelta(hours=1)
    for decision in (*restocks.values(), *discounts.values()):
        assert sale.start < decision["ts"] <= hour_end  # in the backfilled hour...
        assert decision["ts"] < datetime.fromtimestamp(sent_after, UTC) - MAX_SKEW  # ...over a day ago

    # One recommendation per click, at the click's own time.
    clicks = {m.data["event_id"]: m.data["ts"] for m in sale.of("clicks")}
    records = read_topic(settings, "recommendations").until(
        lambda rs: set(clicks) <= {json.loads(r.value)["source_event_id"] for r in rs}
    )
    made_at = {(v := json.loads(r.value))["source_event_id"]: v["ts"] for r in records}
    assert {e: datetime.fromisoformat(made_at[e]) for e in clicks} == {
        e: datetime.fromisoformat(ts) for e, ts in clicks.items()
    }
    assert read_topic(settings, "dead-letters").to_end() == []
