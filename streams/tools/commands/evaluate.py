"""``flashsale evaluate``: the adaptive policy against its baselines over many simulated markets.

The maths is :func:`models.sim.compare.compare_seeds`; this command picks the seeds, shows progress
and writes the JSON. ``flashsale evaluate experiment`` measures the holdout experiment instead
(:mod:`streams.tools.experiment`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from streams.settings import get_settings
from streams.tools.commands.group import cli

RATIO_LABELS = {
    "adaptive_vs_best_static": "best static in hindsight",
    "adaptive_vs_clairvoyant": "clairvoyant plan",
}


@cli.group("evaluate", invoke_without_command=True)
@click.option("--seeds", type=click.IntRange(min=1), default=20, show_default=True, help="markets to run")
@click.option("--first-seed", type=click.IntRange(min=0), default=1, show_default=True, help="first seed")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the full result (per-seed rows included) here")  # fmt: skip
@click.option("--second-market", is_flag=True, help="also run each seed in the saturating market")
@click.option("--pricing-only", is_flag=True, help="skip scoring recommendation lists (hit-rates: null)")
@click.option("--minutes", type=click.IntRange(min=4), default=120, show_default=True, help="sale length")
@click.option("--users", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--skus", type=click.IntRange(min=1), default=40, show_default=True)
@click.pass_context
def evaluate(
    ctx: click.Context,
    seeds: int,
    first_seed: int,
    json_path: Path | None,
    second_market: bool,
    pricing_only: bool,
    minutes: int,
    users: int,
    skus: int,
) -> None:
    """Adaptive ÷ best static in hindsight and ÷ clairvoyant plan: mean and 95 % CI over seeds.

    Seeds FIRST-SEED … FIRST-SEED+SEEDS-1, each the demo's scenario (as `flashsale simulate` builds it)
    with that seed; every policy runs in the same market with the same recommendation setting. Knobs
    come from the FLASHSALE_ settings.
    """
    if ctx.invoked_subcommand is not None:
        return
    from tqdm import tqdm

    from models.sim.compare import compare_seeds, second_market_of
    from streams.skus.processor import sku_policy
    from streams.tools.simulate import scenario

    if json_path is not None and not json_path.parent.is_dir():
        raise click.BadParameter(f"folder {json_path.parent} does not exist", param_hint="--json")
    policy = sku_policy(get_settings())
    bar = tqdm(range(first_seed, first_seed + seeds), unit="seed", desc="evaluate", file=sys.stderr)
    result = compare_seeds(
        bar,
        policy,
        market=lambda seed: scenario(seed, minutes, users, skus),
        second_market=(lambda seed: second_market_of(scenario(seed, minutes, users, skus)))
        if second_market
        else None,
        lists=not pricing_only,
    )
    for line in summary_lines(result):
        click.echo(line)
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
        click.echo(f"written: {json_path}")


def summary_lines(result: dict[str, Any]) -> list[str]:
    """What ``flashsale evaluate`` prints."""
    seeds = result["seeds"]
    lines = [f"{len(seeds)} seeds ({seeds[0]}–{seeds[-1]}); mean and 95 % t-interval over seeds"]
    blocks = [("market", result)]
    if result["second_market"] is not None:
        blocks.append(("second market (saturating)", result["second_market"]))
    for name, block in blocks:
        for key, label in RATIO_LABELS.items():
            lines.append(f"{name}: adaptive ÷ {label} {format_block(block[key])}")
    if result["hit_rate_at_10"] is not None:
        lines.append(
            f"hit-rate@10 {result['hit_rate_at_10']:.1%} "
            f"(popularity {result['popularity_hit_rate_at_10']:.1%}), "
            f"novel items {result['novel_hit_rate_at_10']:.1%} "
            f"(popularity {result['popularity_novel_hit_rate_at_10']:.1%}), mean over seeds"
        )
    return lines


def format_block(block: dict[str, Any]) -> str:
    ci = block["ci95"]
    return f"{block['mean']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else " (one seed: no interval)")


@evaluate.command("experiment")
@click.option("--seeds", type=click.IntRange(min=1), default=20, show_default=True, help="simulator seeds")
@click.option("--first-seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--share", type=click.FloatRange(0.05, 0.95), default=0.5, show_default=True, help="holdout share"
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="JSON output file")
@click.option(
    "--plot", "plot_path", type=click.Path(path_type=Path), default=None,
    help="PNG of estimates vs truth (default: beside --json, else experiment.png)",
)  # fmt: skip
def evaluate_experiment(
    seeds: int, first_seed: int, share: float, json_path: Path | None, plot_path: Path | None
) -> None:
    """The holdout experiment's live estimate against the simulator's true uplift, seed by seed.

    The truth: what the treated SKUs earn under the adaptive policy minus what the same SKUs earn
    under the static one in the same market (common random numbers). Writes seeds, covered (seeds
    whose 95% intervals cover the truth, revenue and units) and estimate_vs_truth per seed.
    """
    from models.experiment.plots import plot_coverage
    from streams.tools.experiment import format_report, run_evaluation

    report = run_evaluation(get_settings(), seeds, share, first_seed)
    click.echo(format_report(report))
    if json_path:  # the minute-by-minute series only in the plot: 60 rows a seed would drown the rest
        rows = [{k: v for k, v in row.items() if k != "running"} for row in report["estimate_vs_truth"]]
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({**report, "estimate_vs_truth": rows}, indent=2) + "\n")
        click.echo(f"wrote {json_path}")
    plot = plot_path or (json_path.with_suffix(".png") if json_path else Path("experiment.png"))
    click.echo(f"wrote {plot_coverage(report, plot)}")
