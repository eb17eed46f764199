"""``flashsale evaluate`` on two small markets: the JSON's shape and that its summary follows its rows."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from streams.cli import cli

SMALL = ["--minutes", "24", "--users", "120", "--skus", "5"]


def test_evaluate_two_small_seeds_writes_the_comparison(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    args = ["evaluate", "--seeds", "2", "--json", str(out), "--second-market", *SMALL]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    result = json.loads(out.read_text())
    assert set(result) == {
        "seeds", "adaptive_vs_best_static", "adaptive_vs_clairvoyant", "per_seed", "second_market",
        "hit_rate_at_10", "novel_hit_rate_at_10", "popularity_hit_rate_at_10",
        "popularity_novel_hit_rate_at_10",
    }  # fmt: skip
    assert result["seeds"] == [1, 2] and [row["seed"] for row in result["per_seed"]] == [1, 2]
    for block in (result, result["second_market"]):
        for row in block["per_seed"]:
            revenue = {name: p["revenue"] for name, p in row["policies"].items()}
            assert list(revenue) == ["static", "best_static", "adaptive", "clairvoyant"]
            assert row["adaptive_vs_best_static"] == round(revenue["adaptive"] / revenue["best_static"], 4)
            assert revenue["best_static"] >= revenue["static"]
        ratios = [row["adaptive_vs_clairvoyant"] for row in block["per_seed"]]
        summary = block["adaptive_vs_clairvoyant"]
        assert abs(summary["mean"] - sum(ratios) / 2) < 1e-4
        assert summary["ci95"][0] <= summary["mean"] <= summary["ci95"][1]
    # The second market is another market: its best static discount or revenues differ.
    assert result["second_market"]["per_seed"] != result["per_seed"]
    novel = ("novel_hit_rate_at_10", "popularity_novel_hit_rate_at_10")
    assert all(0.0 <= result[key] <= 1.0 for key in novel)
    assert "adaptive ÷ best static in hindsight" in done.output


def test_evaluate_into_a_missing_folder_is_refused_before_running(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["evaluate", "--json", str(tmp_path / "no" / "x.json"), *SMALL])
    assert done.exit_code == 2 and "does not exist" in done.output
