"""PNG plots of the demo report (matplotlib, Agg backend: no display needed).

``write_plots(evaluation, closed_loop, twin, many, out)`` writes ``forecast.png`` (demand against the
one-minute-ahead forecast and its 90% band, top SKUs), ``stock_discount.png`` (stock on hand and live
discount under the adaptive policy), ``policies.png`` (revenue of the four pricing policies in process;
beside it, apart, the closed loop through Kafka against its in-process twin) and ``seeds.png`` (the
many-seed ratios with their 95 % intervals).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from models.sim.evaluation import Evaluation
from models.sim.ledger import Ledger

COLORS = {"adaptive": "#1f77b4", "static": "#7f7f7f", "best_static": "#9467bd", "clairvoyant": "#2ca02c"}


def top_skus(ledger: Ledger, n: int) -> list[int]:
    """Indices of the ``n`` best-selling SKUs."""
    return [int(i) for i in np.argsort(-ledger.sold.sum(axis=1), kind="stable")[:n]]


def _campaign(ax: Axes, scenario: dict[str, Any], label: str | None = None) -> None:
    start = scenario["campaign_offset_minutes"]
    ax.axvspan(start, start + scenario["campaign_minutes"], color="#ffd54f", alpha=0.18, lw=0, label=label)


def _clip_peaks(ax: Axes, x: np.ndarray, forecast: np.ndarray, data_max: float) -> None:
    """Keep the data readable: the y axis follows the data, a forecast peak above it is labelled."""
    top = 1.6 * data_max
    ax.set_ylim(0, top)
    peak = int(np.nanargmax(forecast)) if np.isfinite(forecast).any() else 0
    if forecast[peak] > top:
        ax.annotate(f"forecast peak {forecast[peak]:.0f} ↑", (x[peak], top), xytext=(-8, -14),
                    textcoords="offset points", ha="right", fontsize=9, color=COLORS["adaptive"])  # fmt: skip


def plot_forecast(evaluation: Evaluation, path: Path, n: int = 4) -> Path:
    """Units sold per minute, expected demand, and the forecast with its band, for the top SKUs."""
    ledger, scenario = evaluation.ledgers["adaptive"], evaluation.report["scenario"]
    fig, axes = plt.subplots(2, (n + 1) // 2, figsize=(13, 7.5), sharex=True, squeeze=False)
    minutes = np.arange(ledger.sold.shape[1])
    for ax, i in zip(axes.flat, top_skus(ledger, n), strict=False):
        run, sku = evaluation.backtests[i], ledger.skus[i]
        _campaign(ax, scenario, "campaign")
        ax.bar(minutes, ledger.sold[i], width=1.0, color="#bdbdbd", label="units sold")
        ax.plot(minutes, ledger.demand_rate[i], color="black", lw=1, ls="--", label="true expected demand")
        ax.fill_between(
            minutes, run["lo"], run["hi"], color=COLORS["adaptive"], alpha=0.2, lw=0, label="90% band"
        )
        ax.plot(minutes, run["forecast"], color=COLORS["adaptive"], lw=1.6, label="forecast (1 min ahead)")
        _clip_peaks(ax, minutes, run["forecast"], max(ledger.sold[i].max(), ledger.demand_rate[i].max(), 1.0))
        ax.set_title(f"{sku.sku} ({sku.category}, {sku.units_sold} sold)", fontsize=11)
        ax.set_ylabel("units / minute")
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("minute of the sale")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=5, frameon=False, bbox_to_anchor=(0.5, 0.96))
    mae = evaluation.report["forecast"]
    fig.suptitle(
        f"Demand forecast of the adaptive run: MAE {mae['mae']:.2f} units/min"
        f" vs seasonal-naive {mae['seasonal_naive_mae']:.2f}",
        y=0.985,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.925))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_stock_discount(evaluation: Evaluation, path: Path, n: int = 6) -> Path:
    """Stock on hand (top) and the live discount (bottom) of the top SKUs under the adaptive policy."""
    ledger, scenario = evaluation.ledgers["adaptive"], evaluation.report["scenario"]
    fig, (stock, discount) = plt.subplots(2, 1, figsize=(12, 7.5), sharex=True, height_ratios=(3, 2))
    minutes = np.arange(ledger.on_hand.shape[1])
    colors = plt.get_cmap("tab10")
    for k, i in enumerate(top_skus(ledger, n)):
        label = ledger.skus[i].sku
        stock.step(minutes, ledger.on_hand[i], where="post", color=colors(k), lw=1.5, label=label)
        discount.step(minutes, 100 * ledger.discount[i], where="post", color=colors(k), lw=1.5)
    static, best = 100 * scenario["default_discount"], 100 * evaluation.report["best_static_discount"]
    discount.axhline(
        static, color=COLORS["static"], ls="--", lw=1.2, label=f"campaign discount {static:.0f}%"
    )
    discount.axhline(best, color=COLORS["best_static"], ls=":", lw=1.4, label=f"best static {best:.0f}%")
    for ax in (stock, discount):
        _campaign(ax, scenario, "campaign" if ax is stock else None)
        ax.grid(alpha=0.3)
    stock.set_ylabel("units on hand (end of minute)")
    stock.set_title("Adaptive policy: stock and discount of the best-selling SKUs")
    stock.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, title="SKU")
    discount.set_ylabel("live discount (%)")
    discount.set_xlabel("minute of the sale")
    discount.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _bars(ax: Axes, names: list[str], values: list[float], colors: list[str], fmt: str = "{:,.0f}") -> None:
    bars = ax.bar(names, values, color=colors)
    ax.bar_label(bars, [fmt.format(v) for v in values], padding=3, fontsize=10)
    ax.set_ylim(0, max(values) * 1.15 if values and max(values) > 0 else 1)
    ax.grid(axis="y", alpha=0.3)
    ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))


def plot_policies(
    evaluation: Evaluation, closed_loop: Ledger | None, twin: Ledger | None, path: Path
) -> Path:
    """Revenue of the four pricing policies in process (left), and of the closed loop through Kafka
    against its in-process twin (right: recommendation lists act on shoppers there, so its revenue
    compares with its twin only)."""
    report = evaluation.report
    labels = {
        "static": f"static at the\ncampaign discount\n({report['scenario']['default_discount']:.0%})",
        "best_static": f"best static\nin hindsight\n({report['best_static_discount']:.0%})",
        "adaptive": "adaptive",
        "clairvoyant": "clairvoyant plan\n(knows true\ndemand)",
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=(2.2, 1))
    names = list(evaluation.ledgers)
    _bars(left, [labels.get(n, n) for n in names], [evaluation.ledgers[n].revenue for n in names],
          [COLORS.get(n, "#9467bd") for n in names])  # fmt: skip
    left.set_title(f"Revenue in process, seed {report['scenario']['seed']}: one market, no lists applied")
    if closed_loop is not None and twin is not None:
        _bars(right, ["closed loop\n(Kafka)", "in-process\ntwin"], [closed_loop.revenue, twin.revenue],
              ["#ff7f0e", COLORS["adaptive"]])  # fmt: skip
        right.set_title("Closed loop vs its twin:\nsame market, same lists shown")
    else:
        right.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_seeds(many: dict[str, Any], path: Path) -> Path:
    """Adaptive ÷ best static and ÷ clairvoyant plan per seed, with the mean and its 95 % interval, in
    each market of ``many`` (:func:`models.sim.compare.compare_seeds`)."""
    blocks = [("market", many), ("second market (saturating)", many["second_market"])]
    blocks = [(name, block) for name, block in blocks if block is not None]
    fig, axes = plt.subplots(1, len(blocks), figsize=(6.5 * len(blocks), 4.2), squeeze=False, sharey=True)
    for ax, (name, block) in zip(axes[0], blocks, strict=True):
        for k, (key, label, color) in enumerate(
            (("adaptive_vs_best_static", "÷ best static", COLORS["best_static"]),
             ("adaptive_vs_clairvoyant", "÷ clairvoyant plan", COLORS["clairvoyant"]))
        ):  # fmt: skip
            ratios = [row[key] for row in block["per_seed"]]
            ax.scatter([k] * len(ratios), ratios, color=color, alpha=0.7, label=label)
            mean, ci = block[key]["mean"], block[key]["ci95"]
            ax.hlines(mean, k - 0.25, k + 0.25, color=color, lw=2.5)
            if ci:
                ax.vlines(k + 0.3, ci[0], ci[1], color=color, lw=2)
            ax.annotate(f"{mean:.3f}", (k + 0.33, mean), va="center", fontsize=10)
        ax.axhline(1.0, color="black", lw=0.8, ls="--")
        ax.set_xticks([0, 1], ["adaptive ÷\nbest static", "adaptive ÷\nclairvoyant plan"])
        ax.set_xlim(-0.6, 1.9)
        ax.set_title(f"{name}, seeds {many['seeds'][0]}–{many['seeds'][-1]}")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("revenue ratio (dots: seeds; bar: mean, line: 95 % CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(
    evaluation: Evaluation,
    closed_loop: Ledger | None,
    twin: Ledger | None,
    many: dict[str, Any] | None,
    out: Path,
) -> list[Path]:
    """All plots of the report into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        plot_forecast(evaluation, out / "forecast.png"),
        plot_stock_discount(evaluation, out / "stock_discount.png"),
        plot_policies(evaluation, closed_loop, twin, out / "policies.png"),
    ]
    return paths + ([plot_seeds(many, out / "seeds.png")] if many is not None else [])
