"""The report ``flashsale demo`` prints: pricing in process (every policy in the same market), the
many-seed block, forecasts and recommendation lists in process, then the closed loop through Kafka
beside its in-process twin, and the holdout experiment when the worker ran one."""

from __future__ import annotations

from typing import Any

from streams.tools.experiment import experiment_lines

HEAD = f"{'policy':<40}{'revenue':>12}{'units':>8}{'sell-through':>14}{'stockout min':>14}{'leftover':>10}"


def policy_lines(rows: dict[str, dict[str, float]]) -> list[str]:
    """A table of policies (name → headline numbers)."""
    lines = [HEAD, "-" * len(HEAD)]
    for name, p in rows.items():
        lines.append(
            f"{name:<40}{p['revenue']:>12,.0f}{p['units']:>8.0f}{p['sell_through']:>14.1%}"
            f"{p['stockout_minutes']:>14.0f}{p['leftover']:>10.0f}"
        )
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The report as the table ``flashsale demo`` prints."""
    static = f"static at the campaign discount ({report['scenario']['default_discount']:.0%})"
    best = f"best static in hindsight ({report['best_static_discount']:.0%})"
    labels = {**report["policy_labels"], "static": static, "best_static": best}
    policies = report["policies"]
    revenue = {name: p["revenue"] for name, p in policies.items()}
    lines = [
        f"pricing in process, seed {report['scenario']['seed']}: every policy in the same market, "
        "no recommendation list applied",
        *policy_lines({labels[name]: p for name, p in policies.items()}),
        f"adaptive ÷ best static {revenue['adaptive'] / revenue['best_static']:.3f}, "
        f"÷ clairvoyant plan {revenue['adaptive'] / revenue['clairvoyant']:.3f}",
    ]
    if "many_seeds" in report:
        lines += _seed_lines(report["many_seeds"])
    f, r = report["forecast"], report["recommendations"]
    lines.append(
        f"forecast MAE (1 min ahead, units/min): {f['mae']:.3f}"
        f"  vs seasonal-naive {f['seasonal_naive_mae']:.3f}"
    )
    hit = next(k for k in r if k.startswith("hit_rate_at_"))
    pop, label = f"popularity_{hit}", hit.replace("hit_rate_at_", "hit-rate@")
    novel, novel_pop = f"novel_{hit}", f"popularity_novel_{hit}"
    lines.append(
        f"recommendation {label} (in process, lists not shown; popularity's list at the same moments, "
        f"bought items left out alike): all orders {r[hit]:.1%} vs popularity {r[pop]:.1%}"
    )
    lines.append(
        f"  novel items (on the list before the buyer first touched them; {r['novel_orders']} of "
        f"{r['orders']} orders): {r[novel]:.1%}  vs popularity {r[novel_pop]:.1%}"
    )
    if "stream" in report:
        lines += _stream_lines(report["stream"], hit, pop)
    if "experiment" in report:
        lines += experiment_lines(report["experiment"])
    return "\n".join(lines)


def _seed_lines(many: dict[str, Any]) -> list[str]:
    seeds = many["seeds"]
    out = [f"over seeds {seeds[0]}–{seeds[-1]} (mean, 95 % t-interval over seeds; `flashsale evaluate`):"]
    for name, block in (("market", many), ("second market (saturating)", many["second_market"])):
        if block is None:
            continue
        for key, label in (
            ("adaptive_vs_best_static", "best static"),
            ("adaptive_vs_clairvoyant", "clairvoyant"),
        ):
            ci = block[key]["ci95"]
            spread = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
            out.append(f"  {name}: adaptive ÷ {label} {block[key]['mean']:.3f}{spread}")
    return out


def _stream_lines(st: dict[str, Any], hit: str, pop: str) -> list[str]:
    topics, rows = st["decisions_on_topics"], st["rows_in_postgres"]
    same = "yes" if st["same_decisions_as_in_process"] else "NO"
    only = st["decisions_only_in_stream"], st["decisions_only_in_process"]
    missed, due, late = st["missed_the_wait"], st["due_decisions"], st["applied_late"]
    same_run = "yes" if st["same_run_as_twin"] else "NO"
    share = st["holdout_share"]
    holdout = f"; {share:.0%} of the campaign's SKUs held out on the static policy in both" if share else ""
    return [
        "closed loop through Kafka (its recommendation lists act on shoppers) against its in-process "
        f"twin (the same market, shown the same lists at the same minutes{holdout}):",
        *policy_lines({"closed loop (Kafka)": st["closed_loop"], "in-process twin": st["in_process_twin"]}),
        f"  the same run: {same_run}",
        *_live_list_lines(st, hit, pop),
        f"decisions on topics {sum(topics.values())} (restock {topics['restock_events']}, discount "
        f"{topics['discount_adjustments']}); rows in Postgres {sum(rows.values())}, "
        f"{st['missing_in_postgres']} missing, {st['duplicate_rows']} duplicate",
        f"same decisions as the in-process maths on the published events: {same} "
        f"({only[0]} only in the stream, {only[1]} only in process; the last minute's "
        f"{st['last_minute_decisions']} wait for later events)",
        f"closed loop: {st['wall_s']:.0f} s; {missed} of {due} due decisions missed the wait "
        f"({late} applied late); {st['recommendation_lists']} recommendation lists applied",
        f"topics and tables kept: flashsale tail restock --namespace {st['namespace']} --from-beginning",
    ]


def _live_list_lines(st: dict[str, Any], hit: str, pop: str) -> list[str]:
    """The lists published through Kafka, scored on the closed loop's orders, beside those of the
    in-process recommender on the same published events."""
    head = "  through Kafka (lists shown: partly their own effect): "
    if st[hit] is None:
        return [head + "n/a (no lists on the topic)"]
    novel, novel_pop, twin = f"novel_{hit}", f"popularity_novel_{hit}", st["twin"]
    overlap = hit.replace("hit_rate", "twin_overlap")
    return [
        f"{head}all orders {st[hit]:.1%} vs popularity {st[pop]:.1%}; novel items {st[novel]:.1%} vs "
        f"popularity {st[novel_pop]:.1%} ({st['novel_orders']} orders)",
        f"  the in-process twin on the same published events (stand-in vectors for BERT's): novel items "
        f"{twin[novel]:.1%}; of {st['lists_on_both']} lists made on the same event, "
        f"{st['same_lists_as_twin']} the same, {st[overlap]:.0%} of the items",
    ]
