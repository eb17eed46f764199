"""The heap built at start stays out of the collector's passes, and freed heap goes back to the system
(glibc's malloc_trim), so a burst does not set RSS for good."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from streams.runtime.heap import freeze, malloc_trim


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def test_values_freed_after_a_burst_leave_rss_once_trimmed() -> None:
    trim = malloc_trim()
    assert trim is not None  # glibc, on Debian and in the images
    trim()
    before = rss_mb()
    burst = [os.urandom(10_000) for _ in range(15_000)]  # ~150 MB of slot-sized values
    survivors = burst[::300]  # a few stay alive, scattered through the heap
    del burst
    gc.collect()
    assert rss_mb() - before > 100  # freed, and still held by malloc
    trim()
    assert rss_mb() - before < 30
    assert len(survivors) == 50


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite collects as before


def test_what_was_alive_when_frozen_is_no_longer_walked_by_collections(unfrozen: None) -> None:
    built_at_start = [[n] for n in range(1_000)]  # as a worker's modules, model and catalog
    freeze("a test")
    assert gc.get_freeze_count() >= len(built_at_start)
    walked = {id(obj) for obj in gc.get_objects()}  # what collections walk: not the frozen generation
    assert not walked & {id(d) for d in built_at_start}
    made_later = [[n] for n in range(10)]
    assert {id(d) for d in made_later} <= {id(obj) for obj in gc.get_objects()}  # collected as usual


def test_a_process_that_froze_its_heap_still_frees_it_at_exit() -> None:
    """Extensions check at exit that nothing of theirs is left (torch's triton names each object)."""
    code = "import torch, triton; from streams.runtime.heap import freeze; freeze('a test')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr
