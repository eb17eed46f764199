"""PNG plots of the holdout experiment's evaluation (matplotlib, Agg backend: no display needed).

``plot_coverage(report, path)``: per seed, the final uplift estimate with its interval against the
simulator's truth (revenue and units per SKU-minute), and the running estimate of the first seed
minute by minute against its running truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

COVERED, MISSED, TRUTH = "#1f77b4", "#d62728", "black"
LABELS = {"revenue": "revenue uplift per SKU-minute", "units": "units uplift per SKU-minute"}


def _forest(ax: Axes, rows: list[dict[str, Any]], metric: str) -> None:
    y = np.arange(len(rows))
    for i, row in enumerate(rows):
        m = row[metric]
        color = COVERED if m["covered"] else MISSED
        ax.plot([m["lo"], m["hi"]], [i, i], color=color, lw=2.2, solid_capstyle="butt")
        ax.plot(m["estimate"], i, "o", color=color, ms=5)
        ax.plot(m["truth"], i, "x", color=TRUTH, ms=7, mew=1.8)
    covered = sum(r[metric]["covered"] for r in rows)
    ax.axvline(0.0, color="#7f7f7f", lw=1, ls=":")
    ax.set_yticks(y, [str(r["seed"]) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_ylabel("seed")
    ax.set_xlabel(LABELS[metric])
    ax.set_title(f"{metric}: {covered} of {len(rows)} intervals cover the truth")
    ax.grid(axis="x", alpha=0.3)


def _running(ax: Axes, row: dict[str, Any], metric: str) -> None:
    series = np.array([[r["minutes"], *r[metric]] for r in row["running"]])
    minutes, estimate, lo, hi, truth = series.T
    ax.fill_between(minutes, lo, hi, color=COVERED, alpha=0.2, lw=0, label="95% interval")
    ax.plot(minutes, estimate, color=COVERED, lw=1.6, label="live estimate")
    ax.plot(minutes, truth, color=TRUTH, lw=1.4, ls="--", label="truth (same market, all static)")
    ax.axhline(0.0, color="#7f7f7f", lw=1, ls=":")
    ax.set_xlabel("campaign minutes so far")
    ax.set_ylabel(LABELS[metric])
    ax.set_title(f"seed {row['seed']}: the running estimate, minute by minute")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def plot_coverage(report: dict[str, Any], path: Path) -> Path:
    """The evaluation of :func:`models.experiment.evaluation.evaluate_experiment` as one figure."""
    rows = report["estimate_vs_truth"]
    height = max(4.5, 0.28 * len(rows) + 1.5)
    fig, axes = plt.subplots(2, 2, figsize=(13, height + 4.2), height_ratios=(height, 4.2), squeeze=False)
    for col, metric in enumerate(("revenue", "units")):
        _forest(axes[0, col], rows, metric)
        _running(axes[1, col], rows[0], metric)
    share = report["holdout_share"]
    fig.suptitle(
        f"Holdout experiment ({share:.0%} of SKUs held out): live estimate (dot, interval) vs the "
        f"simulator's true uplift (x); {report['covered']} of {report['seeds']} seeds covered on both",
        y=0.995,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
