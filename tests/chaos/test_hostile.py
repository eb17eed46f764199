"""Malformed and adversarial messages mixed into the sale on all four input topics: no worker dies,
every bad message is in ``dead-letters`` once, with its reason, and the good results are exactly those
of the clean sale.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from streams.contracts.topics import DEAD_LETTERS
from streams.runtime.admin import ensure_topics
from streams.settings import Settings
from tests.chaos import observe
from tests.chaos.driver import Fleet
from tests.chaos.hostile import Bad, with_hostile
from tests.chaos.workload import ChaosParams, Placed, Sale, publish, reference

pytestmark = pytest.mark.chaos

Where = tuple[str, int, int]  # topic, partition, offset


def dead_letter_problems(letters: list[Any], bad: dict[Where, Bad], placed: dict[Where, Placed]) -> list[str]:
    """What is wrong with the dead letters, given the bad messages sent (and all messages, by place)."""
    problems = []
    seen: Counter[Where] = Counter()
    for letter in letters:
        h = {k: v.decode(errors="replace") for k, v in letter.headers}
        where = (
            h.get("source_topic", ""),
            int(h.get("source_partition", -1)),
            int(h.get("source_offset", -1)),
        )
        seen[where] += 1
        sent = placed.get(where)
        if where not in bad:
            problems.append(f"a good message was dead-lettered: {where} {h.get('error_message')}")
        elif not h.get("error_class") or not h.get("error_message"):
            problems.append(f"a dead letter without a reason: {where} {bad[where].defect}")
        elif sent is None or (letter.key, letter.value) != (sent.message.key, sent.message.value):
            problems.append(f"a dead letter lost the original bytes: {where} {bad[where].defect}")
    twice = [w for w, n in seen.items() if n > 1]
    problems += [f"dead-lettered {seen[w]} times: {w} {bad[w].defect}" for w in twice[:10]]
    missing = Counter(b.defect for w, b in bad.items() if w not in seen)
    if missing:
        lines = [f"  {n:5d} × {defect}" for defect, n in missing.most_common()]
        problems.append(f"{sum(missing.values())} bad messages not dead-lettered:\n" + "\n".join(lines))
    return problems


def test_hostile_input_is_dead_lettered_and_costs_no_good_event(
    chaos: ChaosParams,
    sale: Sale,
    settings: Settings,
    db_schema: str,
    engine: sa.Engine,
    start_worker: Callable,
    tmp_path: Path,
    figures: Callable,
) -> None:
    ensure_topics(settings)
    mixed, bad_messages = with_hostile(sale.messages, chaos.hostile, chaos.seed, now=time.time())
    defects = {id(b.message): b for b in bad_messages}
    placed = publish(settings, mixed)
    where = {(settings.topic(p.message.topic), p.partition, p.offset): p for p in placed}
    bad = {w: defects[id(p.message)] for w, p in where.items() if id(p.message) in defects}
    ref = reference([p for p in placed if id(p.message) not in defects], settings)
    fleet = Fleet(start_worker, settings, 1, tmp_path)
    problems: list[str] = []

    def settled() -> bool:  # caught up, or dead
        return bool(fleet.dead()) or observe.group_progress(settings)[0] == 0

    try:
        try:
            observe.wait_for(settled, chaos.timeout_s / 2, "caught up")
        except AssertionError as exc:
            problems.append(f"{exc} (lag {observe.group_progress(settings)[0]})")
        problems += [f"the worker died: {d}" for d in fleet.dead()]
        letters = observe.read_topic(settings, DEAD_LETTERS)
        problems += dead_letter_problems(letters, bad, where)
        try:
            observe.wait_exact(settings, engine, ref, 30, alive=fleet.dead)
        except AssertionError as exc:
            problems.append(f"good results differ from the clean sale's: {exc}")
        logs = fleet.logs()
        if "Traceback" in logs:
            at = logs.index("Traceback")
            problems.append("the worker logged a traceback:\n" + logs[max(0, at - 500) : at + 3000])
    finally:
        fleet.kill_all()
    assert not problems, "\n".join(problems)
    figures(
        good=len(placed) - len(bad), bad=len(bad), dead_letters=len(letters), decisions=ref.decision_count
    )
