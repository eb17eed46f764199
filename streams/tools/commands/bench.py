"""``flashsale bench`` (pipeline), ``flashsale bench bert`` and ``flashsale bench scale``."""

from __future__ import annotations

from pathlib import Path

import click

from streams.settings import get_settings
from streams.tools.commands.group import cli


@cli.group(invoke_without_command=True)
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="JSON output file")
@click.option("--events", type=click.IntRange(min=1000), default=100_000, show_default=True, help="per run")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="median reported")
@click.option("--latency-s", type=click.FloatRange(min=1), default=20.0, show_default=True)
@click.option(
    "--fixed-rate", type=click.FloatRange(min=0), default=700.0, show_default=True,
    help="events/s of a second latency run (0: none); the first runs at half the pipeline's rate",
)  # fmt: skip
@click.pass_context
def bench(
    ctx: click.Context, json_path: Path | None, events: int, repeats: int, latency_s: float, fixed_rate: float
) -> None:
    """Full-pipeline events/s beside a Faust pass-through and a raw consumer, then latency and RSS.

    Uses the Kafka and Postgres of the settings when they answer, else temporary ones.
    """
    if ctx.invoked_subcommand is not None:
        return
    from streams.tools.bench.common import write_json
    from streams.tools.bench.pipeline import PipelineBench, format_result, run_pipeline_bench

    cfg = PipelineBench(events=events, repeats=repeats, latency_s=latency_s, fixed_rate=fixed_rate)
    result = run_pipeline_bench(get_settings(), cfg, lambda line: click.echo(line, err=True))
    click.echo(format_result(result))
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")


@bench.command("bert")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="JSON output file")
@click.option("--texts", type=click.IntRange(min=500), default=6000, show_default=True, help="per repeat")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="median reported")
@click.option("--latency-s", type=click.FloatRange(min=1), default=20.0, show_default=True)
def bench_bert(json_path: Path | None, texts: int, repeats: int, latency_s: float) -> None:
    """Streaming BERT scoring through Kafka against the model's own peak batched throughput."""
    from streams.tools.bench.bert import BertBench, format_result, run_bert_bench
    from streams.tools.bench.common import write_json

    cfg = BertBench(texts=texts, repeats=repeats, latency_s=latency_s)
    result = run_bert_bench(get_settings(), cfg, lambda line: click.echo(line, err=True))
    click.echo(format_result(result))
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")


def worker_counts(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    """``1,2,4`` → (1, 2, 4): increasing counts of at least 1."""
    try:
        counts = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of worker counts") from None
    if not counts or counts[0] < 1 or list(counts) != sorted(set(counts)):
        raise click.BadParameter(f"{value!r}: worker counts must be increasing and at least 1")
    return counts


@bench.command("scale")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="JSON output file")
@click.option(
    "--users", type=click.IntRange(min=100), default=1_000_000, show_default=True, help="distinct users"
)
@click.option(
    "--skus", type=click.IntRange(min=2), default=10_000, show_default=True, help="half in a campaign"
)
@click.option("--workers", default="1,2,4", show_default=True, callback=worker_counts, help="per role")
@click.option("--window", type=click.IntRange(min=100), default=300_000, show_default=True,
              help="sale events timed per worker count")  # fmt: skip
@click.option("--probe", type=click.IntRange(min=1), default=5_000, show_default=True,
              help="sale events after a kill")  # fmt: skip
@click.option("--small-skus", type=click.IntRange(min=2), default=40, show_default=True,
              help="the small catalog of the large/small ratio")  # fmt: skip
@click.option("--all-role/--no-all-role", default=True, show_default=True,
              help="also run one worker of role all over the large sale (its RSS)")  # fmt: skip
def bench_scale(
    json_path: Path | None, users: int, skus: int, workers: tuple[int, ...], window: int, probe: int,
    small_skus: int, all_role: bool,
) -> None:  # fmt: skip
    """A sale with many users and SKUs through the real stack on split roles: events/s and per CPU-second
    at each worker count, RSS per role, changelog size, recovery, takeover, rebalance pause, decisions."""
    from streams.tools.bench.common import write_json
    from streams.tools.bench.scale import ScaleBench, format_result, run_scale_bench

    cfg = ScaleBench(users, skus, workers, window, probe, small_skus, all_role)

    def save(partial: dict[str, object]) -> None:  # a run cut short still leaves its figures
        if json_path:
            write_json(json_path, {"partial": "the large catalog so far", "users": users, **partial})

    result = run_scale_bench(get_settings(), cfg, lambda line: click.echo(line, err=True), save)
    click.echo(format_result(result))
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")
