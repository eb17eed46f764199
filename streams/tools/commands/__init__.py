"""The ``flashsale`` command group; each module adds the commands of one area."""

from __future__ import annotations

from streams.tools.commands import bench, evaluate, replay, sale, stack  # they register on ``cli``
from streams.tools.commands.group import cli

__all__ = ["bench", "cli", "evaluate", "replay", "sale", "stack"]
