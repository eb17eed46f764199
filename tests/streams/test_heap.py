"""Freed heap goes back to the system (glibc's malloc_trim), so a burst does not set RSS for good."""

from __future__ import annotations

import gc
import os

import psutil

from streams.runtime.heap import malloc_trim


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
