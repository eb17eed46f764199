"""PNG plots of recommendation hit-rates (matplotlib, Agg backend: no display needed).

``plot_hit_rates(recommendations, stream, path)``: one sale's hit-rate@k on all orders and on novel
items, the lists against every popularity reading (``recommendations.png`` of the demo report);
``plot_seed_hit_rates(rows, path)``: novel-item hit-rate per seed beside popularity's and twice it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

READINGS = {
    "units_so_far": "popularity: units so far,\nsame moments and rules",
    "recent_units": "popularity: last 10 min,\nsame moments and rules",
    "at_order_time": "popularity: one list, nothing\nleft out, at order / first touch",
}
COLORS = ["#1f77b4", "#7f7f7f", "#b0b0b0", "#d9d9d9", "#ff7f0e", "#ffbb78"]


def plot_hit_rates(
    recommendations: Mapping[str, Any], stream: Mapping[str, Any] | None, path: Path, k: int = 10
) -> Path:
    """Hit-rate@k on all orders and on novel items: the lists in process, each popularity reading and,
    when ``stream`` (the demo's stream block) has lists, those published through Kafka."""
    rows = {"recommendations\n(in process)": (recommendations[f"hit_rate_at_{k}"],
                                               recommendations[f"novel_hit_rate_at_{k}"])}  # fmt: skip
    for name, label in READINGS.items():
        reading = recommendations["popularity_readings"][name]
        rows[label] = (reading["hit_rate"], reading["novel_hit_rate"])
    if stream is not None and stream.get(f"hit_rate_at_{k}") is not None:
        kafka = f"{stream['novel_orders']} novel orders"
        rows[f"recommendations through Kafka\n(shown; {kafka})"] = (
            stream[f"hit_rate_at_{k}"], stream[f"novel_hit_rate_at_{k}"],
        )  # fmt: skip
        rows["popularity: units so far, at the\ntwin's moments on Kafka's events"] = (
            stream[f"popularity_hit_rate_at_{k}"], stream[f"popularity_novel_hit_rate_at_{k}"],
        )  # fmt: skip
    fig, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / len(rows)
    for j, (label, values) in enumerate(rows.items()):
        x = np.arange(2) + (j - (len(rows) - 1) / 2) * width
        bars = ax.bar(x, values, width, label=label, color=COLORS[j % len(COLORS)])
        ax.bar_label(bars, [f"{v:.0%}" for v in values], padding=2, fontsize=8)
    novel = recommendations["novel_orders"]
    ticks = [f"all orders ({recommendations['orders']} in process)", f"novel items ({novel} in process)"]
    ax.set_xticks(np.arange(2), ticks)
    ax.set_ylabel(f"hit-rate@{k}")
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title("Was the item on the buyer's list? (novel: on the list before they first touched it)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_seed_hit_rates(rows: Mapping[str, Mapping[str, Any]], path: Path, k: int = 10) -> Path:
    """Novel-item hit-rate@k per seed (``rows``: seed → a report's ``recommendations`` block) beside
    the headline popularity's, and the line the target "≥ 2× popularity's" draws."""
    seeds = list(rows)
    ours = np.array([rows[s][f"novel_hit_rate_at_{k}"] for s in seeds])
    popular = np.array([rows[s][f"popularity_novel_hit_rate_at_{k}"] for s in seeds])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.arange(len(seeds))
    ax.bar(x - 0.2, ours, 0.4, label="recommendations", color=COLORS[0])
    ax.bar(x + 0.2, popular, 0.4, label="popularity (units so far, same moments and rules)", color=COLORS[1])
    ax.plot(x, 2 * popular, "r_", markersize=18, label="2 × popularity (the target)")
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--", label="100 %: every novel order a hit")
    for xi, (a, b) in enumerate(zip(ours, popular, strict=True)):
        ax.annotate(f"{a / b:.2f}×", (xi - 0.2, a), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [str(s) for s in seeds])
    ax.set_xlabel("seed")
    ax.set_ylabel(f"novel-item hit-rate@{k}")
    ax.set_ylim(0, max(1.1, float((2 * popular).max()) * 1.05))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title("Novel items: on the list before the buyer first touched them")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
