"""``flashsale replay`` on the real Kafka and Postgres, against a recorded sale that live processed.

A faithful replay (module fixture) must reproduce live's decisions exactly and leave everything of
live as it was; a replay with another model and settings must show in ``compare``; an interrupted
replay must resume, or restart with ``--overwrite``; misuse gets one clear line.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient

from streams.runtime.admin import client_config
from streams.tools.replay.copy import read_manifest, resolve_ranges
from streams.tools.replay.namespace import replay_group

pytestmark = pytest.mark.replay


def fresh(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:6]}"


def same_as_live(recorded: Any, namespace: str, helpers: Any) -> bool:
    """The namespace's decisions and holdout estimates equal live's: same ids and values, in Postgres
    and on the topics."""
    url = recorded.settings.database_url.get_secret_value()
    if helpers.schema_decisions(url, namespace) != recorded.decisions:
        return False
    topics = ("restock", "discount-adjustments", "experiment-results")
    live = [helpers.topic_decisions(recorded.settings, recorded.settings.topic(t)) for t in topics]
    return live == [helpers.topic_decisions(recorded.settings, f"{namespace}.{t}") for t in topics]


def test_replay_reproduces_the_live_decisions_exactly(recorded: Any, faithful: Any, helpers: Any) -> None:
    assert same_as_live(recorded, faithful.namespace, helpers)
    assert "rec/s" in faithful.result.stderr and "100%" in faithful.result.stderr  # progress shown
    assert "records/s" in faithful.result.stdout and "compare live" in faithful.result.stdout
    assert read_manifest(recorded.settings, faithful.namespace).state == "done"


def test_replay_leaves_live_offsets_and_outputs_alone(recorded: Any, faithful: Any, helpers: Any) -> None:
    after = helpers.live_snapshot(recorded.settings)
    assert after["committed"] and after["committed"] == recorded.snapshot["committed"]  # admin client
    assert after["ends"] == recorded.snapshot["ends"]  # nothing written to any live topic
    url = recorded.settings.database_url.get_secret_value()
    assert helpers.schema_decisions(url, recorded.settings.db_schema) == recorded.decisions


def test_compare_of_a_faithful_replay_shows_no_decision_difference(
    faithful: Any, flashsale: Any, tmp_path: Path
) -> None:
    done = flashsale("replay", "compare", "live", faithful.namespace, "--json", str(tmp_path / "c.json"))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    for counts in report["decisions"].values():
        assert counts["a"] == counts["b"] == counts["same"] > 0
    assert all(s["diff"] == 0 for s in report["restock_by_sku"])
    assert "restock quantity by SKU: 0 of" in done.stdout


def test_another_model_and_setting_show_in_compare(
    recorded: Any, flashsale: Any, tiny_model: Path, tmp_path: Path
) -> None:
    namespace = fresh("tiny")
    done = flashsale("replay", "--namespace", namespace, *recorded.args(), "--model", str(tiny_model),
                     "--set", "service_level=0.99", "--set", "FLASHSALE_DISCOUNT_MAX_STEP=0.1")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    done = flashsale("replay", "compare", "live", namespace, "-k", "3", "--json", "-")
    report = json.loads(done.stdout)
    assert report["decisions"]["restock"]["changed"] + report["decisions"]["restock"]["only_b"] > 0
    assert any(s["diff"] for s in report["restock_by_sku"]) and report["decisions"]["discount"]["changed"]
    assert report["recommendations"]["users_both"] > 0 and report["recommendations"]["overlap_at_k"] < 1


def test_an_interrupted_replay_resumes_to_the_same_decisions(
    recorded: Any, flashsale: Any, interrupted: Any, helpers: Any
) -> None:
    namespace = fresh("resumed")
    stopped = interrupted(namespace)
    assert stopped.returncode == 130 and "--resume continues it" in stopped.stderr
    assert no_members(recorded.settings, namespace)  # Ctrl-C stopped the replay's worker too
    again = flashsale("replay", "--namespace", namespace, *recorded.args())
    assert again.returncode == 1 and "unfinished replay" in again.stderr and "--resume" in again.stderr
    resumed = flashsale("replay", "--namespace", namespace, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert same_as_live(recorded, namespace, helpers)


def test_overwrite_restarts_an_interrupted_replay_cleanly(
    recorded: Any, flashsale: Any, interrupted: Any, helpers: Any
) -> None:
    namespace = fresh("restarted")
    assert interrupted(namespace, "--set", "service_level=0.99").returncode == 130
    done = flashsale("replay", "--namespace", namespace, *recorded.args(), "--overwrite")
    assert done.returncode == 0, done.stderr[-3000:]
    assert same_as_live(recorded, namespace, helpers)  # nothing left of the first attempt's setting


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2020-01-01T00:00Z", "--to", "2020-01-02T00:00Z"], "empty range: no records from 2020"),
        (["--topics", "orders,checkout"], "unknown topic checkout; replayable: catalog, clicks"),
        (["--set", "topic_prefix=x"], "--set topic_prefix: the replay sets it"),
        (["--namespace", "public"], "namespace 'public' is reserved"),
    ],
)
def test_misuse_is_one_clear_line(recorded: Any, flashsale: Any, args: list[str], message: str) -> None:
    done = flashsale("replay", "--namespace", fresh("bad"), *recorded.args(), *args)
    assert done.returncode != 0 and done.stderr.startswith("flashsale: error: ")
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_existing_namespace_needs_overwrite(recorded: Any, faithful: Any, flashsale: Any) -> None:
    done = flashsale("replay", "--namespace", faithful.namespace, *recorded.args())
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert f"namespace '{faithful.namespace}' exists (a finished replay" in done.stderr
    assert "--overwrite replaces it" in done.stderr


def test_a_range_from_mid_sale_starts_with_the_catalog_as_it_was(recorded: Any) -> None:
    middle = recorded.start + timedelta(minutes=6)
    _, ranges = resolve_ranges(recorded.settings, ["catalog", "orders"], middle, recorded.end)
    assert sum(len(r.snapshot) for r in ranges["catalog"]) == 8  # the latest version of every SKU
    assert all(r.snapshot == [] and r.end > r.start for r in ranges["orders"])


def no_members(settings: Any, namespace: str) -> bool:
    admin = KafkaAdminClient(**client_config(settings))
    try:
        group = replay_group(settings, namespace)
        return not admin.describe_groups([group])[group].get("members")
    finally:
        admin.close()
