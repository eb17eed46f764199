"""Commands of the local stack and the worker: setup, up, status, down, topics, migrate, worker, schemas."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streams.settings import get_settings
from streams.tools.commands.group import cli


@cli.command()
def setup() -> None:
    """Fetch and check what the local stack needs (Kafka jars, Java, Postgres binaries)."""
    from infra.stack import LocalStack, check_prerequisites

    postgres = LocalStack.at(get_settings().stack_place()).postgres
    for line in check_prerequisites(progress=lambda line: click.echo(line, err=True), postgres=postgres):
        click.echo(line)


@cli.command()
@click.option(
    "--brokers",
    type=click.IntRange(min=1),
    default=None,
    help="Kafka nodes: 1, or 3+ for a replicated cluster (replication 3, min.insync.replicas 2); "
    "default: as last started in the data dir, else 1",
)
def up(brokers: int | None) -> None:
    """Start the local Kafka and Postgres (idempotent) and migrate the database."""
    from infra.stack import LocalStack

    stack = LocalStack.at(get_settings().stack_place(), brokers)
    stack.up(progress=lambda line: click.echo(line, err=True))
    _print_status(stack.status())
    if stack.brokers > 1:  # what a worker on the cluster needs
        needs = stack.kafka_settings().items()
        click.echo("workers: " + " ".join(f"FLASHSALE_{name.upper()}={value}" for name, value in needs))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(as_json: bool) -> None:
    """Show the local stack: URLs, PIDs, data dir."""
    from infra.stack import LocalStack

    info = LocalStack.at(get_settings().stack_place()).status()
    click.echo(json.dumps(info, indent=2)) if as_json else _print_status(info)


@cli.command()
def down() -> None:
    """Stop the local stack (idempotent); data stays in the data dir."""
    from infra.stack import LocalStack

    LocalStack.at(get_settings().stack_place()).down()
    click.echo("local stack stopped")


def _print_status(info: dict) -> None:
    for name in ("kafka", "postgres"):
        part = info[name]
        if "nodes" in part:  # a cluster: one line for it, one per node
            nodes = part["nodes"]
            state = f"{sum(node['running'] for node in nodes)} of {len(nodes)} running"
            click.echo(f"{name:<9}{state:<22}{part['bootstrap']}")
            for node in part["nodes"]:
                state = f"running (pid {node['pid']})" if node["running"] else "stopped"
                click.echo(f"{'  ' + str(node['node_id']):<9}{state:<22}{node['bootstrap']}")
            continue
        state = f"running (pid {part['pid']})" if part["running"] else "stopped"
        url = part.get("bootstrap") or part.get("url")
        click.echo(f"{name:<9}{state:<22}{url}")
    click.echo(f"{'data':<9}{info['data_dir']}")


@cli.command()
def topics() -> None:
    """Create the app's topics (namespace from FLASHSALE_TOPIC_PREFIX) that are missing."""
    from streams.runtime.admin import ensure_topics

    created = ensure_topics(get_settings())
    click.echo(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))


@cli.command()
@click.option("--revision", default="head", show_default=True)
@click.option("--down", "downgrade", is_flag=True, help="downgrade to --revision (default base)")
def migrate(revision: str, downgrade: bool) -> None:
    """Apply (or revert) the database migrations in FLASHSALE_DB_SCHEMA."""
    from infra import migrations
    from streams.sink.agents import database_url

    s = get_settings()
    url = database_url(s).render_as_string(hide_password=False)
    if downgrade:
        migrations.downgrade(url, s.db_schema, "base" if revision == "head" else revision)
    else:
        migrations.upgrade(url, s.db_schema, revision)
    click.echo(f"schema {s.db_schema} at {migrations.current(url, s.db_schema) or 'base'}")


ROLES = click.Choice(["all", "skus", "users"])


@cli.command()
@click.option("--loglevel", default=None, help="default: FLASHSALE_LOG_LEVEL")
@click.option("--role", type=ROLES, default=None, help="skus, users or all; default: FLASHSALE_WORKER_ROLE")
def worker(loglevel: str | None, role: str | None) -> None:
    """Run a stream worker (add more workers to scale; those of one role share a consumer group)."""
    from streams.runtime.faust_internals import missing
    from streams.worker import run_worker

    if gaps := missing():  # a Faust or aiokafka upgrade removed what the worker relies on
        raise click.ClickException(f"the installed Faust/aiokafka lack what the worker relies on: {gaps[0]}")
    settings = get_settings()
    run_worker(settings.model_copy(update={"worker_role": role}) if role else settings, loglevel)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/schemas"), show_default=True)
@click.option("--check", is_flag=True, help="fail if the files differ from the records")
def schemas(out: Path, check: bool) -> None:
    """Write the JSON Schemas of every contract event (for downstream services)."""
    from streams.contracts.schemas import write_schemas

    stale = write_schemas(out, check=check)
    if check and stale:
        raise click.ClickException(f"schemas out of date: {', '.join(stale)} (run `flashsale schemas`)")
    click.echo(f"{'checked' if check else 'wrote'} schemas in {out}")
