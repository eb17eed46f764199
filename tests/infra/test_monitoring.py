"""The operators' view: the Grafana dashboard and Prometheus alerts read only metrics the workers define.

Metric names, types and labels are parsed from the ``prometheus_client`` definitions in ``streams/``
(and checked against the registry once those modules are imported). Every PromQL expression, on a
dashboard panel or in an alert rule, may name only their series (and ``up``) and group or match only
on their labels. With ``promtool`` on PATH (Debian package ``prometheus``, installed by .ci/run) the
config and rules are also checked by Prometheus' own parser and the rules' unit tests are run.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "infra" / "prometheus"
GRAFANA_DIR = ROOT / "infra" / "grafana"
DASHBOARD_FILE = GRAFANA_DIR / "dashboards" / "flashsale-workers.json"
DATASOURCE_FILE = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
PROVIDER_FILE = GRAFANA_DIR / "provisioning" / "dashboards" / "flashsale.yml"
WORKER_JOB = "flashsale-worker"
METRIC_TYPES = ("Counter", "Gauge", "Histogram", "Summary")
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("", "_sum", "_count", "_created"),
}
# Series Prometheus adds to every target, and the labels it attaches to every scraped series.
SYNTHETIC_SERIES = {"up": frozenset({"job", "instance"})}
TARGET_LABELS = frozenset({"job", "instance"})
PROMQL_WORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})


@dataclass(frozen=True)
class Metric:
    module: str
    name: str  # as passed to prometheus_client: a counter's name ends in _total
    kind: str
    labels: frozenset[str]

    @property
    def family(self) -> str:
        return self.name.removesuffix("_total") if self.kind == "Counter" else self.name

    def series(self) -> dict[str, frozenset[str]]:
        """The series names Prometheus stores for this metric, each with the labels it carries."""
        names = {self.family + suffix: self.labels for suffix in SUFFIXES[self.kind]}
        if self.kind == "Histogram":
            names[self.family + "_bucket"] = self.labels | {"le"}
        return names


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _label_names(call: ast.Call) -> frozenset[str]:
    labels = call.args[2] if len(call.args) > 2 else None
    labels = next((k.value for k in call.keywords if k.arg == "labelnames"), labels)
    if not isinstance(labels, ast.List | ast.Tuple):
        return frozenset()
    return frozenset(name for name in map(_string, labels.elts) if name)


def metrics_defined_in(path: Path) -> list[Metric]:
    """The prometheus_client metrics a module defines, found by parsing it (nothing is run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not any(isinstance(n, ast.ImportFrom) and n.module == "prometheus_client" for n in ast.walk(tree)):
        return []  # collections.Counter and the like
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    found = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        kind = call.func.id if isinstance(call.func, ast.Name) else None
        name = _string(call.args[0]) if call.args else None
        if kind in METRIC_TYPES and name:
            found.append(Metric(module, name, kind, _label_names(call)))
    return found


@pytest.fixture(scope="module")
def metrics() -> list[Metric]:
    return [m for path in sorted((ROOT / "streams").rglob("*.py")) for m in metrics_defined_in(path)]


@pytest.fixture(scope="module")
def series(metrics: list[Metric]) -> dict[str, frozenset[str]]:
    """Every series name a worker exposes or Prometheus adds → the labels it may carry."""
    known = {name: labels | TARGET_LABELS for m in metrics for name, labels in m.series().items()}
    return known | SYNTHETIC_SERIES


# --- PromQL: which series and labels an expression uses -----------------------------------------

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{([^}]*)\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_RANGES = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w$])([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")


def series_in(expr: str) -> set[str]:
    """Series names in a PromQL expression: identifiers that are not functions, keywords or labels.

    >>> sorted(series_in('sum by (topic) (rate(a_total{topic!~"x"}[$__rate_interval])) > 1e3 and b'))
    ['a_total', 'b']
    """
    bare = _RANGES.sub("", _GROUPING.sub("", _MATCHERS.sub("", _QUOTED.sub('""', expr))))
    return {name for name in _IDENTIFIER.findall(bare) if name.lower() not in PROMQL_WORDS}


def labels_in(expr: str) -> set[str]:
    """Label names an expression matches or groups on.

    >>> sorted(labels_in('sum by (le, agent) (rate(x_bucket{job="w", topic=~"a,b"}[5m]))'))
    ['agent', 'job', 'le', 'topic']
    """
    unquoted = _QUOTED.sub('""', expr)
    matched = {name for body in _MATCHERS.findall(unquoted) for name in re.findall(r"(\w+)\s*[=!]", body)}
    grouped = {name.strip() for body in _GROUPING.findall(unquoted) for name in body.split(",")}
    return (matched | grouped) - {""}


def unknown_references(expr: str, series: dict[str, frozenset[str]]) -> list[str]:
    """What ``expr`` names that no worker metric defines: series, then labels of its series."""
    used = series_in(expr)
    missing = sorted(used - series.keys())
    allowed = set().union(*(series.get(name, frozenset()) for name in used))
    return missing + sorted(f"label {label}" for label in labels_in(expr) - allowed)


# --- what the code defines ----------------------------------------------------------------------


def test_metrics_are_found_in_the_worker_code(metrics: list[Metric]) -> None:
    names = {m.name for m in metrics}
    assert {"flashsale_events_in_total", "flashsale_consumer_lag", "flashsale_sink_retries_total"} <= names
    assert {m.name: m.labels for m in metrics}["flashsale_dead_letters_total"] == {"topic", "error"}


def test_parsed_metrics_are_what_the_registry_holds(metrics: list[Metric]) -> None:
    for module in {m.module for m in metrics}:
        importlib.import_module(module)
    registered = {family.name: family.type for family in REGISTRY.collect()}
    assert {m.family: registered.get(m.family) for m in metrics} == {
        m.family: m.kind.lower() for m in metrics
    }


# --- the Grafana dashboard ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query on the dashboard."""
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_has_an_id_and_panels_with_queries(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert ids and len(ids) == len(set(ids))
    assert all(panel.get("targets") for panel in dashboard["panels"])


def test_panels_fit_the_grid(dashboard: dict[str, Any]) -> None:
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_panel_queries_name_only_defined_series_and_labels(panel_queries, series) -> None:
    unknown = [(title, expr, unknown_references(expr, series)) for title, expr in panel_queries]
    assert [query for query in unknown if query[2]] == []


def test_every_worker_metric_is_on_the_dashboard(panel_queries, metrics) -> None:
    shown = {name for _, expr in panel_queries for name in series_in(expr)}
    assert [m.name for m in metrics if not shown & m.series().keys()] == []


def test_worker_count_is_read_from_the_worker_job(panel_queries) -> None:
    assert any(f'up{{job="{WORKER_JOB}"}}' in expr for _, expr in panel_queries)


# --- Grafana provisioning -----------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    (source,) = load_yaml(DATASOURCE_FILE)["datasources"]
    return source


def datasources_used(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = dashboard["panels"]
    return [p["datasource"] for p in panels] + [t["datasource"] for p in panels for t in p["targets"]]


def test_every_query_uses_the_provisioned_datasource(dashboard, datasource) -> None:
    assert datasource["type"] == "prometheus" and datasource["uid"]
    wanted = {"type": "prometheus", "uid": datasource["uid"]}
    assert [d for d in datasources_used(dashboard) if d != wanted] == []


def test_datasource_interval_is_the_scrape_interval(datasource) -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert datasource["jsonData"]["timeInterval"] == config["global"]["scrape_interval"]


def test_dashboard_provider_reads_files() -> None:
    (provider,) = load_yaml(PROVIDER_FILE)["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


# --- Prometheus config and alert rules ----------------------------------------------------------


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    groups = load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_config_loads_the_alert_rules() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert [PROMETHEUS_DIR / name for name in config["rule_files"]] == [PROMETHEUS_DIR / "alerts.yml"]


def test_every_rule_is_an_alert_an_operator_can_act_on(rules) -> None:
    for rule in rules:
        assert rule["alert"] and rule["expr"] and re.fullmatch(r"\d+[smh]", rule["for"]), rule
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
    assert len({rule["alert"] for rule in rules}) == len(rules)


def test_rule_expressions_name_only_defined_series_and_labels(rules, series) -> None:
    unknown = {rule["alert"]: unknown_references(rule["expr"], series) for rule in rules}
    assert {alert: refs for alert, refs in unknown.items() if refs} == {}


@pytest.mark.parametrize(
    "watched",
    ["up", "flashsale_consumer_lag", "flashsale_dead_letters_total", "flashsale_sink_retries_total",
     "flashsale_commit_stalls_total", "flashsale_rebalance_seconds_bucket"],
)  # fmt: skip
def test_an_alert_watches(rules, watched) -> None:
    assert any(watched in series_in(rule["expr"]) for rule in rules)


# --- promtool: Prometheus' own checks and the rules' unit tests ---------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ],
    ids=" ".join,
)
def test_promtool(args: list[str]) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        missing = "promtool is not on PATH (Debian package 'prometheus')"
        if os.environ.get("CI"):
            pytest.fail(f"{missing}, but .ci/run installs it")
        pytest.skip(f"{missing}; the structural checks above ran")
    result = subprocess.run([promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
