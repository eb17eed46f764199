"""The worker: the app with every agent family wired on, run until it is stopped."""

from __future__ import annotations

import logging

from faust.worker import Worker

from streams.app import Flashsale, create_app
from streams.logs import use_json
from streams.runtime import heap, stalls
from streams.runtime.admin import ensure_topics
from streams.settings import Settings


def pipeline_app(settings: Settings, *, web: bool = True) -> Flashsale:
    """The app with the agent families of the worker's role and the commit-stall watch registered on it:
    ``skus`` the per-SKU path, the holdout experiment and the sink (torch is never imported), ``users``
    the user path (BERT), ``all`` both; the heap built at start is kept out of the collector's passes,
    and freed heap goes back to the system every few seconds (:mod:`streams.runtime.heap`)."""
    flashsale = create_app(settings, web=web)
    if settings.worker_role in ("all", "skus"):
        from streams.experiment import agents as experiment
        from streams.sink import agents as sink
        from streams.skus import agents as skus

        skus.register(flashsale)
        experiment.register(flashsale)
        sink.register(flashsale)
    if settings.worker_role in ("all", "users"):
        from streams.users import agents as users

        users.register(flashsale)
    stalls.watch(flashsale)
    heap.freeze_once_started(flashsale.app)
    heap.give_back_freed_heap(flashsale.app)
    return flashsale


def run_worker(settings: Settings, loglevel: str | None = None) -> None:
    """Create missing topics, then run the worker until it is stopped (SIGTERM/SIGINT)."""
    ensure_topics(settings)
    flashsale = pipeline_app(settings)
    worker = FlashsaleWorker(flashsale.app, loglevel=(loglevel or settings.log_level).lower(), quiet=True)
    worker.json_logs = settings.log_format == "json"
    worker.execute_from_commandline()


class FlashsaleWorker(Worker):
    """Faust's worker, with JSON log lines when asked for."""

    json_logs = False

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        if self.json_logs:
            use_json(logger)
