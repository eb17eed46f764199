"""Run a Faust worker for the app built from settings."""

from __future__ import annotations

from faust.worker import Worker

from streams.admin import ensure_topics
from streams.app import create_app
from streams.settings import Settings


def run_worker(settings: Settings, loglevel: str | None = None) -> None:
    """Create missing topics, then run the worker until it is stopped (SIGTERM/SIGINT)."""
    ensure_topics(settings)
    fs = create_app(settings)
    worker = Worker(fs.app, loglevel=(loglevel or settings.log_level).lower(), quiet=True)
    worker.execute_from_commandline()
