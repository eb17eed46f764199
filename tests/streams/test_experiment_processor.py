"""The experiment processor driven directly with plain messages: no broker, no worker (sends recorded)."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from models.experiment.tally import CampaignTally
from models.policy.control import CONTROL, TREATMENT, BucketOutcome
from streams.app import create_app
from streams.experiment.processor import ExperimentProcessor, result_fields
from streams.experiment.state import EXPERIMENT_CAMPAIGNS, EXPERIMENT_CLOCKS
from streams.experiment.wire import MARK, OUTCOME, mark_value, outcome_value
from streams.runtime.outbox import Outbox
from streams.runtime.tablestate import load, state_table
from streams.runtime.tenure import Tenure
from streams.settings import Settings

T0 = 1_762_862_400.0  # 2025-11-11 12:00 UTC: the campaign starts 3 minutes later
TOPIC = "experiment-events"
P0 = TP(TOPIC, 0)
RESULTS = "experiment-results"


class Recorder(Outbox):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(self, topic: Any, **kwargs: Any) -> None:
        self.sent.append((topic.get_topic_name(), kwargs))

    async def send_bytes(self, topic: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.sent.append((topic, kwargs))

    async def deliver(self) -> dict[tuple[str, int], int]:
        return {}

    def results(self) -> list[dict[str, Any]]:
        return [json.loads(kw["value"].dumps()) for name, kw in self.sent if name == RESULTS]


class Rig:
    """A processor on a bare app's real tables (two SKU partitions feed it), holding partition 0."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path, topic_partitions=2, holdout_share=0.5)
        flashsale = create_app(self.settings, web=False)
        self.flashsale, self.outbox, self.offset = flashsale, Recorder(), 0
        self.ranges: list[tuple[int, int]] = []
        self.log: list[Any] = []  # every message this partition holds, for direct reads
        self.campaigns = state_table(flashsale.app, "experiment-campaigns", EXPERIMENT_CAMPAIGNS)
        self.clocks = state_table(flashsale.app, "experiment-clocks", EXPERIMENT_CLOCKS)
        self.processor = self.fresh_processor()

    def fresh_processor(self) -> ExperimentProcessor:
        return ExperimentProcessor(self.settings, self.flashsale.topics, self.campaigns, self.clocks,
                                   lambda: self.outbox, self.read_range)  # fmt: skip

    async def read_range(self, settings: Settings, topic: str, partition: int, start: int, end: int) -> list:
        self.ranges.append((start, end))
        return [m for m in self.log if start <= m.offset < end]

    def tenure(self) -> Tenure:
        app = SimpleNamespace(rebalancing=False, rebalancing_count=0)
        ownership: Any = SimpleNamespace(app=app, losses=Counter(), writing=contextlib.nullcontext)
        return Tenure(ownership, 0, frozenset({P0}), {P0: 0}, 0)

    async def run(self, *messages: Any) -> None:
        await self.processor.process([SimpleNamespace(message=m) for m in messages], self.tenure())

    def message(self, value: bytes, kind: str, key: bytes | None = None, offset: int | None = None) -> Any:
        if offset is None:
            offset, self.offset = self.offset, self.offset + 1
        found = SimpleNamespace(topic=TOPIC, partition=0, offset=offset, tp=P0, key=key, value=value,
                                headers=[("kind", kind.encode())])  # fmt: skip
        self.log.append(found)
        return found

    def minute(self, m: int, treated_lift: float = 2.0) -> list[Any]:
        """Every SKU's outcome of minute ``m`` (8 SKUs, half treated), then both partitions' marks."""
        out = []
        for i in range(8):
            arm = TREATMENT if i % 2 else CONTROL
            units = float(1 + i % 4 + (treated_lift if arm == TREATMENT and m >= 3 else 0.0))
            outcome = BucketOutcome("c1", T0 + 180, T0 + 600, f"s{i}", arm, T0 + 60 * m, units, 9.5 * units,
                                    10 * (1 + i % 4), 9.5)  # fmt: skip
            out.append(self.message(outcome_value(outcome), OUTCOME, b"c1"))
        return out + [self.message(mark_value(p, T0 + 60 * (m + 1)), MARK) for p in (0, 1)]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


async def test_estimates_wait_for_every_sku_partition_then_one_per_campaign_minute(rig: Rig) -> None:
    first = [m for minute in range(5) for m in rig.minute(minute)]
    await rig.run(*first[:-1])  # skus/1 has not marked minute 4's end: minute 4 stays open
    assert [r["minutes"] for r in rig.outbox.results()] == [1.0]  # minutes 0-2 are before the campaign
    await rig.run(first[-1])
    results = rig.outbox.results()
    assert [r["minutes"] for r in results] == [1.0, 2.0]
    assert results[-1]["units_uplift"] == pytest.approx(2.0) and results[-1]["units_lo"] < 2.0
    assert len({r["event_id"] for r in results}) == 2 and results[-1]["n_treatment"] == 4
    stored = load(rig.campaigns, "c1", 0)
    assert stored is not None and stored.closed_until == T0 + 300
    assert load(rig.clocks, "p0", 0).position == rig.offset - 1


async def test_redelivered_records_and_re_sent_outcomes_change_nothing(rig: Rig) -> None:
    batch = [m for minute in range(5) for m in rig.minute(minute)]
    await rig.run(*batch)
    before = rig.outbox.results()
    await rig.run(*batch)  # read again after a restart: same offsets, already applied
    resent = [rig.message(m.value, m.headers[0][1].decode(), m.key) for m in batch]  # new offsets
    await rig.run(*resent)  # the SKU agent sent them again after a crash
    assert rig.outbox.results() == before


async def test_the_same_outcomes_give_the_same_results_in_any_batching(rig: Rig, tmp_path: Path) -> None:
    messages = [m for minute in range(6) for m in rig.minute(minute)]
    await rig.run(*messages)
    whole = rig.outbox.results()
    other = Rig(tmp_path / "other")
    again = [m for minute in range(6) for m in other.minute(minute)]
    for i in range(0, len(again), 7):
        await other.run(*again[i : i + 7])
        other.processor = other.fresh_processor()  # a restart between batches: state from the tables
    assert other.outbox.results() == whole
    estimates = CampaignTally.from_state(load(rig.campaigns, "c1", 0).to_state())
    assert estimates.closed_until == T0 + 360


async def test_a_stretch_the_state_missed_is_read_directly(rig: Rig) -> None:
    messages = [m for minute in range(5) for m in rig.minute(minute)]
    await rig.run(*messages[:10])
    await rig.run(*messages[20:])  # offsets 10-19 were committed but their state was lost
    assert rig.ranges == [(10, 20)]
    assert [r["minutes"] for r in rig.outbox.results()] == [1.0, 2.0]


async def test_a_record_the_sku_agent_never_writes_is_a_dead_letter(rig: Rig) -> None:
    await rig.run(rig.message(b'{"campaign_id": "c1"}', OUTCOME, b"c1"), rig.message(b"{}", "nudge"))
    dead = [kw for name, kw in rig.outbox.sent if name == "dead-letters"]
    assert len(dead) == 2 and load(rig.clocks, "p0", 0).position == 1


def test_result_ids_follow_the_campaign_and_minute_only(rig: Rig) -> None:
    from models.experiment.tally import Estimate
    from models.experiment.uplift import Uplift

    u = Uplift(1.0, 0.5, 0.4, 0.5, 0.1, 10.0, 0.3, 0.7, 0.95, 1)
    ids = [result_fields(Estimate(c, T0 + t, 1.0, 4, 4, u, u))["event_id"] for c, t in
           (("c1", 60), ("c1", 60), ("c1", 120), ("c2", 60))]  # fmt: skip
    assert ids[0] == ids[1] and len(set(ids)) == 3
