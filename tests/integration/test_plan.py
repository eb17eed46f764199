"""``flashsale plan`` on the real Kafka: it reads the ``sku-status`` history and the catalogue a namespace
holds, over the range asked, and plans exactly what the maths plans from the same records.

The history is the simulator's (a day curve, two days, a past sale in the second), run closed-loop by
the pipeline's per-SKU maths and published as the stream would have: each SKU's status after every
closed minute, stamped with the watermark. It ends at the last midnight (UTC), so the records are recent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kafka import KafkaProducer

from models.plan.demand import FitOptions
from models.plan.history import from_status
from models.plan.learn import fit
from models.plan.recommend import PlanOptions, plan_sale
from models.plan.report import plan_report
from models.plan.scenario import PlanScenario, StreamRecord, stream_history
from models.sim.truth import MarketTruth
from streams.runtime.admin import client_config, ensure_topics
from streams.settings import Settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
MIDNIGHT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
SHOP = PlanScenario(n_skus=8, n_users=300, sessions_per_minute=40.0)
HISTORY = SHOP.config(
    6,
    MIDNIGHT - timedelta(days=2),
    2 * 1440,
    campaign_offset_minutes=1440 + 14 * 60,
    campaign_minutes=60,
    stock_coverage=(2.0, 3.0),
)


@pytest.fixture(scope="module")
def recorded() -> list[StreamRecord]:
    records, _ = stream_history(HISTORY)
    return records


def publish(settings: Settings, records: list[StreamRecord]) -> None:
    ensure_topics(settings)
    producer = KafkaProducer(**client_config(settings), acks="all", linger_ms=20)
    try:
        for r in records:
            producer.send(
                settings.topic(r.topic),
                key=r.key.encode(),
                value=json.dumps(r.value).encode(),
                timestamp_ms=round(r.ts * 1000),
            )
        producer.flush()
    finally:
        producer.close()


def flashsale(kafka_bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHSALE_")}
    env["FLASHSALE_BROKER_URL"] = f"kafka://{kafka_bootstrap}"
    return subprocess.run(
        [sys.executable, "-m", "streams", "plan", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def in_process(records: list[StreamRecord], until: float) -> dict[str, Any]:
    """The plan the maths makes from the same records, without Kafka."""
    catalog = {r.key: r.value for r in records if r.topic == "catalog" and r.ts < until}
    statuses = [r for r in records if r.topic == "sku-status" and r.ts < until]
    history = from_status([r.value for r in statuses], catalog, [r.ts for r in statuses])
    model = fit(history, FitOptions())
    assert history.terms is not None
    plan = plan_sale(model, history.stock, history.terms, MIDNIGHT, PlanOptions())
    return plan_report(plan, model, history)


def test_plan_reads_the_namespaces_history_and_plans_as_the_maths_does(
    kafka_bootstrap: str, namespace: str, tmp_path: Path, recorded: list[StreamRecord]
) -> None:
    publish(Settings(broker_url=f"kafka://{kafka_bootstrap}", topic_prefix=namespace), recorded)
    out, png = tmp_path / "plan.json", tmp_path / "plan.png"
    done = flashsale(kafka_bootstrap, "--namespace", namespace, "--json", str(out), "--plot", str(png))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["day"] == MIDNIGHT.date().isoformat()  # the day after the history
    want = in_process(recorded, float("inf"))
    assert report["categories"] == want["categories"] and report["skus"] == want["skus"]
    assert report["history"]["skus"] == HISTORY.n_skus
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "revenue" in done.stdout
    # The busiest hour it learnt is the market's, within an hour.
    truth = MarketTruth(HISTORY)
    rate = np.stack([truth.demand_rate(m, np.zeros(HISTORY.n_skus)) for m in range(1440)], axis=1)
    busiest = int(np.argmax(rate.sum(axis=0).reshape(24, 60).sum(axis=1)))
    learnt = np.sum([c["units_per_hour"] for c in report["demand"]["categories"].values()], axis=0)
    assert abs(int(np.argmax(learnt)) - busiest) <= 1


def test_plan_reads_only_the_range_asked(
    kafka_bootstrap: str, namespace: str, tmp_path: Path, recorded: list[StreamRecord]
) -> None:
    publish(Settings(broker_url=f"kafka://{kafka_bootstrap}", topic_prefix=namespace), recorded)
    cut = MIDNIGHT - timedelta(days=1)
    out = tmp_path / "plan.json"
    done = flashsale(
        kafka_bootstrap,
        "--namespace",
        namespace,
        "--to",
        cut.isoformat(),
        "--day",
        MIDNIGHT.date().isoformat(),
        "--json",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert datetime.fromisoformat(report["history"]["to"]) <= cut
    assert any("no past campaign" in n for n in report["notes"])  # the past sale was on the second day
    want = in_process(recorded, cut.timestamp())
    assert report["categories"] == want["categories"]


def test_an_empty_or_missing_history_is_one_line(kafka_bootstrap: str, namespace: str) -> None:
    ensure_topics(Settings(broker_url=f"kafka://{kafka_bootstrap}", topic_prefix=namespace))
    for ns, says in ((namespace, "no sku-status records"), (f"{namespace}x", "does not exist")):
        done = flashsale(kafka_bootstrap, "--namespace", ns)
        assert done.returncode == 1
        [line] = done.stderr.strip().splitlines()[-1:]
        assert line.startswith("flashsale: error: ") and says in line, done.stderr
