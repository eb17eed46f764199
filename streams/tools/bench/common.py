"""Bench maths and reporting: percentiles, ratios, medians, host description, tables and JSON.

>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
>>> ratio(50.0, 200.0)
0.25
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation between closest ranks.

    Examples
    --------
    >>> percentile([10.0], 99)
    10.0
    >>> percentile([0.0, 10.0], 99)
    9.9
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must lie in [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | int]:
    """``latency_ms_p50``, ``latency_ms_p99``, ``latency_ms_max`` and the sample count ``latency_n``."""
    if not latencies_ms:
        raise ValueError("no latency samples: nothing came out of the pipeline")
    return {
        "latency_ms_p50": round(percentile(latencies_ms, 50), 1),
        "latency_ms_p99": round(percentile(latencies_ms, 99), 1),
        "latency_ms_max": round(max(latencies_ms), 1),
        "latency_n": len(latencies_ms),
    }


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; 0.0 when the denominator is not positive (nothing was measured)."""
    return numerator / denominator if denominator > 0 else 0.0


def median_of(values: Iterable[float]) -> float:
    """Median of repeated measurements (at least one).

    >>> median_of([3.0, 1.0, 2.0])
    2.0
    """
    items = list(values)
    if not items:
        raise ValueError("median of no measurements")
    return float(statistics.median(items))


def rate(events: int, seconds: float) -> float:
    """Events per second over a window; a zero-length window is an error, not infinity."""
    if seconds <= 0:
        raise ValueError(f"a throughput window must be positive, got {seconds} s")
    return events / seconds


def host_info() -> dict[str, Any]:
    """Where the figures were taken: cores, CPU, GPU (or none), versions, UTC date."""
    import torch

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if "model name" in ln]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "gpu": gpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def format_table(rows: Sequence[tuple[str, str]], title: str) -> str:
    """Two aligned columns under a title.

    >>> print(format_table([("a", "1"), ("bb", "22")], "t"))
    t
      a    1
      bb  22
    """
    width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    return "\n".join([title, *(f"  {name:<{width}}  {value:>{value_width}}" for name, value in rows)])


def write_json(path: Path, result: Mapping[str, Any]) -> None:
    """Write ``result`` as indented JSON (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
