"""The ``flashsale`` command: local stack, worker, topics, migrations, schemas.

Misuse and operational failures print one line to stderr and exit non-zero; never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from kafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from infra.errors import InfraError
from streams.settings import get_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """flashsale-stream: live flash-sale decisions on Kafka."""


@cli.command()
def setup() -> None:
    """Fetch and check what the local stack needs (Kafka jars, Java, Postgres binaries)."""
    from infra.stack import LocalStack, check_prerequisites

    postgres = LocalStack.from_settings(get_settings()).postgres
    for line in check_prerequisites(progress=lambda line: click.echo(line, err=True), postgres=postgres):
        click.echo(line)


@cli.command()
def up() -> None:
    """Start the local Kafka and Postgres (idempotent) and migrate the database."""
    from infra.stack import LocalStack

    stack = LocalStack.from_settings(get_settings())
    stack.up(progress=lambda line: click.echo(line, err=True))
    _print_status(stack.status())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(as_json: bool) -> None:
    """Show the local stack: URLs, PIDs, data dir."""
    from infra.stack import LocalStack

    info = LocalStack.from_settings(get_settings()).status()
    click.echo(json.dumps(info, indent=2)) if as_json else _print_status(info)


@cli.command()
def down() -> None:
    """Stop the local stack (idempotent); data stays in the data dir."""
    from infra.stack import LocalStack

    LocalStack.from_settings(get_settings()).down()
    click.echo("local stack stopped")


def _print_status(info: dict) -> None:
    for name in ("kafka", "postgres"):
        part = info[name]
        state = f"running (pid {part['pid']})" if part["running"] else "stopped"
        url = part.get("bootstrap") or part.get("url")
        click.echo(f"{name:<9}{state:<22}{url}")
    click.echo(f"{'data':<9}{info['data_dir']}")


@cli.command()
def topics() -> None:
    """Create the app's topics (namespace from FLASHSALE_TOPIC_PREFIX) that are missing."""
    from streams.admin import ensure_topics

    created = ensure_topics(get_settings())
    click.echo(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))


@cli.command()
@click.option("--revision", default="head", show_default=True)
@click.option("--down", "downgrade", is_flag=True, help="downgrade to --revision (default base)")
def migrate(revision: str, downgrade: bool) -> None:
    """Apply (or revert) the database migrations in FLASHSALE_DB_SCHEMA."""
    from infra import migrations

    s = get_settings()
    url = s.database_url.get_secret_value()
    if downgrade:
        migrations.downgrade(url, s.db_schema, "base" if revision == "head" else revision)
    else:
        migrations.upgrade(url, s.db_schema, revision)
    click.echo(f"schema {s.db_schema} at {migrations.current(url, s.db_schema) or 'base'}")


@cli.command()
@click.option("--loglevel", default=None, help="default: FLASHSALE_LOG_LEVEL")
def worker(loglevel: str | None) -> None:
    """Run a stream worker (add more workers to scale; they share the consumer group)."""
    from streams.worker import run_worker

    run_worker(get_settings(), loglevel)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/schemas"), show_default=True)
@click.option("--check", is_flag=True, help="fail if the files differ from the records")
def schemas(out: Path, check: bool) -> None:
    """Write the JSON Schemas of every contract event (for downstream services)."""
    from streams.schemas import write_schemas

    stale = write_schemas(out, check=check)
    if check and stale:
        raise click.ClickException(f"schemas out of date: {', '.join(stale)} (run `flashsale schemas`)")
    click.echo(f"{'checked' if check else 'wrote'} schemas in {out}")


@cli.command()
@click.option("--seed", default=7, show_default=True)
@click.option("--minutes", type=click.IntRange(min=4), default=120, show_default=True, help="sale length")
@click.option("--users", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--skus", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--rate", type=click.FloatRange(min=1), default=2000.0, show_default=True, help="events/s")
@click.option("--flat-out", is_flag=True, help="publish as fast as the broker takes it (ignores --rate)")
@click.option("--closed-loop/--open-loop", default=True, show_default=True, help="apply decisions")
@click.option(
    "--wait-s",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="closed loop: most wall time to wait per simulated minute for its decisions",
)
def simulate(
    seed: int,
    minutes: int,
    users: int,
    skus: int,
    rate: float,
    flat_out: bool,
    closed_loop: bool,
    wait_s: float,
) -> None:
    """Publish a simulated flash sale to the input topics (namespace from FLASHSALE_TOPIC_PREFIX)."""
    from streams.simulate import scenario, summary_lines
    from streams.simulate import simulate as run_simulation

    try:
        config = scenario(seed, minutes, users, skus)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    run = run_simulation(get_settings(), config, None if flat_out else rate, closed_loop, wait_s)
    for line in summary_lines(run, closed_loop):
        click.echo(line)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("flashsale-report"), show_default=True)
@click.option("--seed", default=7, show_default=True, help="scenario seed (default scenario otherwise)")
@click.option("--sale-s", type=click.FloatRange(min=10), default=120.0, show_default=True, help="wall time")
@click.option("--wait-s", type=click.FloatRange(min=0), default=2.0, show_default=True, help="see `simulate`")
@click.option("--stack/--no-stack", default=True, show_default=True, help="start the local stack if down")
def demo(out: Path, seed: int, sale_s: float, wait_s: float, stack: bool) -> None:
    """Run a simulated sale through a real worker, then print and write the report (≤ 5 min)."""
    from contextlib import nullcontext

    from models.simulation import ScenarioConfig
    from streams.demo import format_report, local_stack, run_demo

    def say(line: str) -> None:
        click.echo(line, err=True)

    settings = get_settings()
    with local_stack(settings, say) if stack else nullcontext(settings) as s:
        report = run_demo(s, out, ScenarioConfig(seed=seed), sale_s, wait_s, say)
    click.echo(format_report(report))
    click.echo(f"report: {out / 'report.json'}")


@cli.command()
@click.argument("topic")
@click.option("--key", default=None, help="only messages with this key (a user_id or sku)")
@click.option("--namespace", default=None, help="topic prefix (default: FLASHSALE_TOPIC_PREFIX)")
@click.option("--from-beginning", is_flag=True, help="start at the oldest message, not at the end")
def tail(topic: str, key: str | None, namespace: str | None, from_beginning: bool) -> None:
    """Print TOPIC's events live, one line each (Kafka time, partition@offset, key, JSON); Ctrl-C stops."""
    from streams.tail import UnknownTopic, run_tail

    settings = get_settings()
    if namespace is not None:
        settings = settings.model_copy(update={"topic_prefix": namespace})
    try:
        run_tail(settings, topic, key, from_beginning, click.echo)
    except UnknownTopic as exc:
        raise click.ClickException(str(exc)) from None


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
    from streams.bench.common import write_json
    from streams.bench.pipeline import PipelineBench, format_result, run_pipeline_bench

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
    from streams.bench.bert import BertBench, format_result, run_bert_bench
    from streams.bench.common import write_json

    cfg = BertBench(texts=texts, repeats=repeats, latency_s=latency_s)
    result = run_bert_bench(get_settings(), cfg, lambda line: click.echo(line, err=True))
    click.echo(format_result(result))
    if json_path:
        write_json(json_path, result)
        click.echo(f"wrote {json_path}")


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
) -> None:
    """Replay a time range of the live topics through the pipeline in an isolated namespace.

    \b
    flashsale replay --from 2026-11-11T12:00Z --to 2026-11-11T14:00Z --namespace try1 --set service_level=0.99
    flashsale replay compare live try1
    """
    if ctx.invoked_subcommand is not None:
        return
    from streams.replay import ReplayError, ReplayRequest, parse_overrides, run_replay, summary
    from streams.topics import INPUT_TOPICS

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
    from streams.replay_compare import compare as compare_runs
    from streams.replay_compare import format_report
    from streams.replay_copy import ReplayError

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
    from streams.replay import ReplayError, drop_namespace

    try:
        drop_namespace(get_settings(), namespace)
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"dropped namespace {namespace}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning expected failures into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="flashsale", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"flashsale: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (InfraError, KafkaError, SQLAlchemyError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        click.echo(f"flashsale: error: {first_line}", err=True)
        sys.exit(1)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        click.echo(f"flashsale: error: invalid setting FLASHSALE_{where.upper()}: {first['msg']}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
