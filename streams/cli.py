"""The ``flashsale`` entry point: misuse and operational failures print one line and exit non-zero.

The commands themselves live in :mod:`streams.tools.commands`.
"""

from __future__ import annotations

import signal
import sys

import click
from kafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from infra.errors import InfraError
from streams.tools.commands import cli

__all__ = ["cli", "main"]


def _unwind(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # a SIGTERM unwinds as Ctrl-C does: temporary servers and children stop


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning expected failures into one line and an exit code. (A worker
    installs Faust's own signal handlers once it starts.)"""
    signal.signal(signal.SIGTERM, _unwind)
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
