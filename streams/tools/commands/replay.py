"""``flashsale replay`` into an isolated namespace, ``replay compare`` and ``replay drop``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streams.settings import get_settings
from streams.tools.commands.group import cli


class Timestamp(click.ParamType):
    """An ISO-8601 time (``2026-11-11T12:00:00Z``); without an offset it is taken as UTC."""

    name = "TIMESTAMP"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        from datetime import UTC, datetime

        if isinstance(value, datetime):
            return value
        try:
            ts = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO-8601 time such as 2026-11-11T12:00:00Z", param, ctx)
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@cli.group(invoke_without_command=True)
@click.option("--from", "from_ts", type=Timestamp(), help="first event time replayed (included)")
@click.option("--to", "to_ts", type=Timestamp(), help="end of the replayed event time (excluded)")
@click.option("--topics", default=None, help="comma-separated subset of catalog,clicks,orders,stock")
@click.option("--namespace", default=None, help="replay namespace: topic prefix, schema, consumer group")
@click.option("--model", "model_path", type=click.Path(path_type=Path), help="BERT checkpoint to replay with")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="a setting: service_level=0.99")
@click.option("--overwrite", is_flag=True, help="replace an existing namespace")
@click.option("--resume", is_flag=True, help="continue an interrupted replay of --namespace")
@click.option(
    "--pause-after-commit", is_flag=True, help="hold, unfinished, once the worker committed input (tests)"
)
@click.pass_context
def replay(
    ctx: click.Context,
    from_ts: object,
    to_ts: object,
    topics: str | None,
    namespace: str | None,
    model_path: Path | None,
    overrides: tuple[str, ...],
    overwrite: bool,
    resume: bool,
    pause_after_commit: bool,
) -> None:
    """Replay a time range of the live topics through the pipeline in an isolated namespace.

    \b
    flashsale replay --from 2026-11-11T12:00Z --to 2026-11-11T14:00Z --namespace try1 --set service_level=0.99
    flashsale replay compare live try1
    """
    if ctx.invoked_subcommand is not None:
        return
    from streams.contracts.topics import INPUT_TOPICS
    from streams.tools.replay.replay import ReplayError, ReplayRequest, parse_overrides, run_replay, summary

    if namespace is None:
        raise click.UsageError("--namespace is required")
    if overwrite and resume:
        raise click.UsageError("--overwrite and --resume exclude each other")
    try:
        request = ReplayRequest(
            namespace=namespace,
            from_ts=from_ts,  # type: ignore[arg-type]
            to_ts=to_ts,  # type: ignore[arg-type]
            topics=tuple(t.strip() for t in topics.split(",")) if topics is not None else INPUT_TOPICS,
            model_path=model_path,
            overrides=parse_overrides(list(overrides)),
            overwrite=overwrite,
            resume=resume,
            pause_after_commit=pause_after_commit,
        )
        manifest = run_replay(get_settings(), request, say=lambda line: click.echo(line, err=True))
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary(manifest))
    click.echo(f"compare: flashsale replay compare live {namespace}")


@replay.command()
@click.argument("a")
@click.argument("b")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="also write JSON here (-: stdout)")
@click.option("--from", "from_ts", type=Timestamp(), help="window start (default: the replayed range)")
@click.option("--to", "to_ts", type=Timestamp(), help="window end (default: the replayed range)")
@click.option("-k", type=click.IntRange(min=1), default=None, help="overlap@k; default: recommendations_k")
@click.option("--rows", type=click.IntRange(min=0), default=20, show_default=True, help="per-SKU rows shown")
def compare(
    a: str, b: str, json_out: Path | None, from_ts: object, to_ts: object, k: int | None, rows: int
) -> None:
    """Decision differences between runs A and B (each a replay namespace or `live`)."""
    from streams.tools.replay.compare import compare as compare_runs
    from streams.tools.replay.compare import format_report
    from streams.tools.replay.copy import ReplayError

    settings = get_settings()
    try:
        window = (from_ts, to_ts)
        report = compare_runs(settings, a, b, window, k or settings.recommendations_k)  # type: ignore[arg-type]
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from None
    text = json.dumps(report, indent=2, default=str)
    if str(json_out) == "-":
        click.echo(text)
        return
    for line in format_report(report, rows):
        click.echo(line)
    if json_out is not None:
        json_out.write_text(text + "\n")
        click.echo(f"json: {json_out}")


@replay.command()
@click.argument("namespace")
def drop(namespace: str) -> None:
    """Delete a replay namespace: its topics, consumer group, schema and local data."""
    from streams.tools.replay.replay import ReplayError, drop_namespace

    try:
        drop_namespace(get_settings(), namespace)
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"dropped namespace {namespace}")
