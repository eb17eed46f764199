"""The one door to Faust's and aiokafka's private attributes: checked at start, loud when a path fails."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import faust
import pytest
from click.testing import CliRunner
from faust.types import TP
from faust.types.tuples import Message

from streams.runtime import faust_internals
from streams.runtime.faust_internals import (
    InternalsError,
    committed_offsets,
    kafka_producer,
    last_fetch_ms,
    missing,
    withhold_acks,
)
from streams.tools.commands import cli

TP0 = TP("orders", 0)


def test_the_installed_versions_have_everything_the_worker_relies_on() -> None:
    assert missing() == []


def test_a_missing_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = (*faust_internals.REQUIRED, (faust.App, "_no_such_thing", "a library change"))
    monkeypatch.setattr(faust_internals, "REQUIRED", gone)
    assert missing() == ["faust.app.base.App._no_such_thing (a library change)"]


def test_the_worker_refuses_to_start_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = ((faust.App, "_no_such_thing", "a library change"),)
    monkeypatch.setattr(faust_internals, "REQUIRED", gone)
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: the installed Faust/aiokafka lack what the worker relies on: "
        "faust.app.base.App._no_such_thing (a library change)"
    ]


def test_before_start_the_producer_path_raises_and_fetch_times_are_unknown() -> None:
    app = faust.App("internals-test", broker="kafka://127.0.0.1:1")
    with pytest.raises(InternalsError, match="producer has not started"):
        kafka_producer(app)
    assert last_fetch_ms(app, TP0) is None  # the consumer has not started: unknown, not an error
    assert committed_offsets(app).get(TP0) is None  # nothing committed yet


def test_a_broken_path_raises_instead_of_answering_a_default() -> None:
    """A consumer without the thread Faust 0.15 has (a library change): an error, not "unknown"."""
    changed: Any = SimpleNamespace(consumer=SimpleNamespace())
    with pytest.raises(AttributeError, match="_thread"):
        last_fetch_ms(changed, TP0)


def test_a_withheld_event_never_reaches_the_consumers_acknowledgements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = faust.App("internals-test", broker="kafka://127.0.0.1:1")
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: topic == "orders")  # an agent reads it
    consumer = app.consumer
    kept, left = (Message("orders", 0, offset, 0.0, 0, {}, None, b"v", None) for offset in (7, 8))
    withhold_acks([SimpleNamespace(message=left)])  # type: ignore[list-item]
    assert consumer.ack(kept) and not consumer.ack(left)  # what take_events does with each, later
    assert list(consumer._acked[TP0]) == [7]  # a commit can never pass 8 on this worker's word
