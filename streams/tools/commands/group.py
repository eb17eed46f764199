"""The ``flashsale`` click group that every command module registers on."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """flashsale-stream: live flash-sale decisions on Kafka."""
