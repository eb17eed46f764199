"""``flashsale plan``: when to run a sale (活动时机), learnt from the history the stream kept."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from streams.settings import get_settings
from streams.tools.commands.group import cli
from streams.tools.commands.replay import Timestamp


def durations(value: str) -> tuple[int, ...]:
    """``60,120`` → (60, 120); each from 15 to 720 minutes."""
    try:
        out = tuple(sorted({int(v) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of minutes") from None
    if not out or not all(15 <= d <= 720 for d in out):
        raise click.BadParameter(f"{value!r}: durations must be from 15 to 720 minutes")
    return out


@cli.command()
@click.option("--from", "from_ts", type=Timestamp(), help="first sku-status time read (default: the oldest)")
@click.option("--to", "to_ts", type=Timestamp(), help="end of the sku-status time read (default: now)")
@click.option("--namespace", default=None, help="topic prefix (default: FLASHSALE_TOPIC_PREFIX)")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="the sale's day (default: after the history)")
@click.option(
    "--durations",
    "duration_list",
    default="60,120,180",
    show_default=True,
    help="candidate window lengths, minutes",
)
@click.option(
    "--step", type=click.IntRange(5, 120), default=15, show_default=True, help="minutes between starts"
)
@click.option(
    "--utc-offset",
    type=click.FloatRange(-12, 14),
    default=0.0,
    show_default=True,
    help="hours the shop's local time is ahead of UTC (hours of day and weekdays are local)",
)
@click.option(
    "--restock-capacity",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="a reorder placed at the opening adds at most this × the stock now",
)
@click.option(
    "--level", type=click.FloatRange(0.5, 0.99), default=0.9, show_default=True, help="interval level"
)
@click.option("--rows", type=click.IntRange(min=0), default=20, show_default=True, help="per-SKU rows shown")
@click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False), help="write JSON here")
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), help="write a PNG plot here")
@click.option("--evaluate", is_flag=True, help="validate the plan in the simulator instead (no Kafka)")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="--evaluate: seeds (default 10)")
def plan(
    from_ts: datetime | None,
    to_ts: datetime | None,
    namespace: str | None,
    day: datetime | None,
    duration_list: str,
    step: int,
    utc_offset: float,
    restock_capacity: float,
    level: float,
    rows: int,
    json_out: Path | None,
    plot: Path | None,
    evaluate: bool,
    seeds: int | None,
) -> None:
    """Recommend sale windows per category, opening discounts and starting stock per SKU, from sku-status.

    \b
    flashsale plan --from 2026-11-04T00:00Z --to 2026-11-11T00:00Z --json plan.json --plot plan.png
    flashsale plan --evaluate --seeds 10 --json plan-eval.json --plot plan-eval.png
    """
    from streams.tools.plan.run import PlanError, PlanRequest, make_plan, run_evaluation

    if evaluate:
        given = [
            flag
            for flag, v in (("--from", from_ts), ("--to", to_ts), ("--namespace", namespace), ("--day", day))
            if v is not None
        ]
        if given:
            raise click.UsageError(f"--evaluate plans from a simulated history: drop {', '.join(given)}")
        lines, _ = run_evaluation(seeds or 10, json_out, plot)
    else:
        if seeds is not None:
            raise click.UsageError("--seeds goes with --evaluate")
        if from_ts is not None and to_ts is not None and from_ts >= to_ts:
            raise click.UsageError("--from must be before --to")
        settings = get_settings()
        if namespace is not None:
            settings = settings.model_copy(update={"topic_prefix": namespace})
        request = PlanRequest(
            from_ts=from_ts,
            to_ts=to_ts,
            day=day.date() if day else None,
            durations=durations(duration_list),
            step_minutes=step,
            utc_offset_hours=utc_offset,
            restock_capacity=restock_capacity,
            level=level,
            rows=rows,
            json_out=json_out,
            plot=plot,
        )
        try:
            lines, _ = make_plan(settings, request)
        except PlanError as exc:
            raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)
