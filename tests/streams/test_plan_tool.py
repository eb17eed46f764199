"""``flashsale plan`` without a broker: misuse is one line, ``--evaluate`` writes its figures and plot."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from models.plan.evaluate import EvalOptions
from models.plan.history import History, SkuInfo
from models.plan.recommend import PlanOptions
from models.plan.scenario import PlanScenario
from streams.cli import main
from streams.tools.plan.run import PlanRequest, run_evaluation, sale_day


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--seeds", "3"], "--seeds goes with --evaluate"),
        (["--evaluate", "--namespace", "x"], "drop --namespace"),
        (["--durations", "5,abc"], "comma-separated list of minutes"),
        (["--durations", "5"], "from 15 to 720 minutes"),
        (["--from", "2026-11-02T00:00Z", "--to", "2026-11-01T00:00Z"], "--from must be before --to"),
        (["--evaluate", "--seeds", "0"], "--seeds"),
    ],
)
def test_misuse_is_one_line_and_exit_2(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plan", *args])  # the entry point, as `flashsale plan ...` runs it
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("flashsale: error: ") and says in line


def test_the_sale_day_is_the_day_after_the_history() -> None:
    midnight = datetime(2026, 11, 11, tzinfo=UTC).timestamp()
    h = History((SkuInfo("A", "toys", 1.0),), np.zeros(1, int), np.array([midnight - 60]), np.ones(1),
                np.ones(1), np.zeros(1), np.ones(1, int))  # fmt: skip
    assert sale_day(h, PlanRequest()).date() == date(2026, 11, 11)  # it ended at midnight
    assert sale_day(h, PlanRequest(utc_offset_hours=8)).date() == date(2026, 11, 12)  # 08:00 local
    assert sale_day(h, PlanRequest(day=date(2026, 12, 12))).date() == date(2026, 12, 12)


def test_evaluate_writes_its_figures_and_a_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = PlanScenario(n_skus=8, n_users=200, history_days=1, sessions_per_minute=10.0)
    options = EvalOptions(tiny, plan=PlanOptions(durations=(60,), draws=200))
    lines, result = run_evaluation(2, tmp_path / "eval.json", tmp_path / "eval.png", options)
    written = json.loads((tmp_path / "eval.json").read_text())
    assert written == json.loads(json.dumps(result)) and written["seeds"] == 2
    rows = written["per_seed"]
    assert written["wins_vs_random"] == sum(r["plan_revenue"] > r["random_revenue"] for r in rows)
    assert {"mean", "ci95"} <= set(written["revenue_vs_random"])
    assert all(r["plan_revenue"] <= r["clairvoyant_revenue"] * 1.5 for r in rows)
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in ("eval.png", "eval-plan-seed0.png"))
    assert "plan --evaluate" in capsys.readouterr().err  # progress
    assert any("beat random windows" in line for line in lines)
