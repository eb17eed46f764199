"""Commands around a sale: simulate, demo, tail, dashboard."""

from __future__ import annotations

from pathlib import Path

import click

from streams.settings import get_settings
from streams.tools.commands.group import cli


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
    from streams.tools.simulate import scenario, summary_lines
    from streams.tools.simulate import simulate as run_simulation

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
@click.option(
    "--holdout-share", type=click.FloatRange(0.0, 0.95), default=0.5, show_default=True,
    help="share of the campaign SKUs the worker holds out on the static policy (0: no experiment)",
)  # fmt: skip
def demo(out: Path, seed: int, sale_s: float, wait_s: float, stack: bool, holdout_share: float) -> None:
    """Run a simulated sale through a real worker, then print and write the report (≤ 5 min)."""
    from contextlib import nullcontext

    from models.sim.market import ScenarioConfig
    from streams.tools.demo import local_stack, run_demo
    from streams.tools.demo_report import format_report

    def say(line: str) -> None:
        click.echo(line, err=True)

    settings = get_settings()
    with local_stack(settings, say) if stack else nullcontext(settings) as s:
        report = run_demo(s, out, ScenarioConfig(seed=seed), sale_s, wait_s, say, holdout_share)
    click.echo(format_report(report))
    click.echo(f"report: {out / 'report.json'}")


@cli.command()
@click.argument("topic")
@click.option("--key", default=None, help="only messages with this key (a user_id or sku)")
@click.option("--namespace", default=None, help="topic prefix (default: FLASHSALE_TOPIC_PREFIX)")
@click.option("--from-beginning", is_flag=True, help="start at the oldest message, not at the end")
def tail(topic: str, key: str | None, namespace: str | None, from_beginning: bool) -> None:
    """Print TOPIC's events live, one line each (Kafka time, partition@offset, key, JSON); Ctrl-C stops."""
    from streams.tools.tail import UnknownTopic, run_tail

    settings = get_settings()
    if namespace is not None:
        settings = settings.model_copy(update={"topic_prefix": namespace})
    try:
        run_tail(settings, topic, key, from_beginning, click.echo)
    except UnknownTopic as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="bind address (0.0.0.0: all)")
@click.option("--port", type=click.IntRange(1, 65535), default=8050, show_default=True)
@click.option("--namespace", default=None, help="topic prefix (default: FLASHSALE_TOPIC_PREFIX)")
@click.option("--group", default=None, help="consumer group whose lag is shown (default: the workers')")
def dashboard(host: str, port: int, namespace: str | None, group: str | None) -> None:
    """Serve a live page of one namespace's sale: stock, sales against forecast, decisions, lag.

    It only reads topics (no consumer group), so it never slows a worker. For a replay namespace
    pass its worker group, e.g. --namespace try1 --group flashsale-replay.try1.
    """
    from streams.app import group_id
    from streams.tools.dashboard.web import DashboardError, run_dashboard

    settings = get_settings()
    if namespace is not None:
        settings = settings.model_copy(update={"topic_prefix": namespace})
    try:
        run_dashboard(
            settings, host, port, group or group_id(settings), lambda line: click.echo(line, err=True)
        )
    except DashboardError as exc:
        raise click.ClickException(str(exc)) from None
