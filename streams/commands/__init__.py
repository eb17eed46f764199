"""The ``flashsale`` command group; each module adds the commands of one area."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """flashsale-stream: live flash-sale decisions on Kafka."""


from streams.commands import bench, replay, sale, stack  # noqa: E402  (they register on ``cli``)

__all__ = ["bench", "cli", "replay", "sale", "stack"]
