"""The worker's heap: what it built at start kept out of the collector's passes, and what Python freed
given back to the system.

A full collection (generation 2) walks every container object alive, and holds the event loop and the
GIL meanwhile. A worker carries hundreds of thousands built once at start (Faust, aiokafka, torch and
the BERT model, the catalog), so at 700 events/s it paused for about 300 ms every 11 s, the tail of
its latency. Once the worker has started, and again once the catalog view is ready (the model loaded),
:func:`freeze` collects once and moves everything alive to the permanent generation (``gc.freeze``):
later passes walk only what was made since. (A frozen object is still freed when its last reference
goes; only one dropped inside a reference cycle stays: what start builds lives as long as the worker.)

glibc's malloc keeps what it is given back: values of a few kB (decoded SKU slots, fetched records,
encoded state) sit in its arenas after a burst has freed them, so a worker's RSS stays at the burst's
high-water mark (a watermark that closes the buckets of 10⁴ SKUs at once). ``malloc_trim(0)`` returns
the free pages of every arena: about 5 ms for a 1 GB heap, done every ``TRIM_EVERY_S`` seconds.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

import faust

log = logging.getLogger(__name__)
TRIM_EVERY_S = 10.0


def freeze(after: str) -> None:
    """Collect once, then keep every object alive now out of later collections; ``after``: what the
    worker just finished building (logged)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    atexit.unregister(gc.unfreeze)  # once, however often frozen
    atexit.register(gc.unfreeze)  # collected as usual at exit (extensions check nothing of theirs is left)
    took_ms = 1000 * (time.perf_counter() - started)
    log.info("heap frozen after %s: %d objects kept out of collections (%.0f ms)",
             after, gc.get_freeze_count(), took_ms)  # fmt: skip


def freeze_once_started(app: faust.App) -> None:
    """:func:`freeze` once the worker's services have started."""

    @app.task
    async def freeze_started_heap() -> None:
        freeze("start")


def malloc_trim() -> Callable[[], bool] | None:
    """glibc's ``malloc_trim(0)`` (True: memory was returned), or None where the C library has none."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError):  # musl, macOS: nothing to call
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: bool(trim(0))


def give_back_freed_heap(app: faust.App) -> None:
    """Register the trim as a timer on the worker (nothing where the C library cannot trim)."""
    trim = malloc_trim()
    if trim is None:
        log.info("malloc_trim is not available: freed heap stays with the worker")
        return

    @app.timer(interval=TRIM_EVERY_S)
    async def trim_heap() -> None:
        trim()
