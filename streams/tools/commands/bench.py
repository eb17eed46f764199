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
@click.pass_context
def bench(ctx: click.Context, json_path: Path | None, events: int, repeats: int, latency_s: float) -> None:
    """Full-pipeline events/s beside a Faust pass-through and a raw consumer, then latency and RSS.

    Uses the Kafka and Postgres of the settings when they answer, else temporary ones.
    """
    if ctx.invoked_subcommand is not None:
        return
    from streams.tools.bench.common import write_json
    from streams.tools.bench.pipeline import PipelineBench, format_result, run_pipeline_bench

    cfg = PipelineBench(events=events, repeats=repeats, latency_s=latency_s)
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


@bench.command("scale")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="JSON output file")
@click.option(
    "--users", type=click.IntRange(min=100), default=1_000_000, show_default=True, help="distinct users"
)
@click.option(
    "--skus", type=click.IntRange(min=2), default=10_000, show_default=True, help="half in the campaign"
)
@click.option(
    "--probe", type=click.IntRange(min=1), default=2_000, show_default=True, help="clicks after a restart"
)
def bench_scale(json_path: Path | None, users: int, skus: int, probe: int) -> None:
    """State for many users and SKUs built through the real stack; a restart on it, and one without it."""
    from streams.tools.bench.common import write_json
    from streams.tools.bench.scale import ScaleBench, format_result, run_scale_bench

    cfg = ScaleBench(users=users, skus=skus, probe=probe)
    result = run_scale_bench(get_settings(), cfg, lambda line: click.echo(line, err=True))
    click.echo(format_result(result))
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")
