"""Run a Faust worker for the app built from settings."""

from __future__ import annotations

import logging

from faust.worker import Worker

from streams.admin import ensure_topics
from streams.app import create_app
from streams.logs import use_json
from streams.settings import Settings


def run_worker(settings: Settings, loglevel: str | None = None) -> None:
    """Create missing topics, then run the worker until it is stopped (SIGTERM/SIGINT)."""
    ensure_topics(settings)
    fs = create_app(settings)
    worker = FlashsaleWorker(fs.app, loglevel=(loglevel or settings.log_level).lower(), quiet=True)
    worker.json_logs = settings.log_format == "json"
    worker.execute_from_commandline()


class FlashsaleWorker(Worker):
    """Faust's worker, with JSON log lines when asked for."""

    json_logs = False

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        if self.json_logs:
            use_json(logger)
