"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine.

The compose file is validated against the official Compose Specification schema
(compose-spec/compose-spec ``schema/compose-spec.json``) as vendored in the check-jsonschema package
(``check_jsonschema/builtin_schemas/vendor/compose-spec.json``, the schema its
``--builtin-schema vendor.compose-spec`` option uses), so no schema file is kept in this repository.
The file is read through the distribution's metadata rather than by importing ``check_jsonschema``,
whose package import loads its click CLI (0.38.1 needs a newer click than faust-streaming allows).
The other tests pin what the schema cannot: the services the README names, a scalable worker, a
single-node KRaft broker, start-up order, no literal secrets, and Prometheus and Grafana provisioned
from infra/ through read-only mounts, pointed at the worker service (their contents: tests/infra).
"""

from __future__ import annotations

import copy
import json
import re
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_SPEC = "check_jsonschema/builtin_schemas/vendor/compose-spec.json"
APP_SERVICES = ("migrate", "worker", "simulator")
MONITORING_IMAGES = {"prometheus": "prom/prometheus", "grafana": "grafana/grafana"}
README_SERVICES = ("kafka", "postgres", *APP_SERVICES, *MONITORING_IMAGES)

# Compose interpolation: $$ (a literal $), ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
)
_DEFAULTED = re.compile(r"\$\{[A-Za-z_]\w*:?-[^}]*\}")


def interpolate_defaults(value: Any) -> Any:
    """``value`` as Compose resolves it with no variable set: every ``${VAR:-default}`` becomes its default.

    >>> interpolate_defaults({"url": "pg://u:${PW:-dev}@db", "cost": "$$5", "ports": [9094]})
    {'url': 'pg://u:dev@db', 'cost': '$5', 'ports': [9094]}
    """
    if isinstance(value, dict):
        return {key: interpolate_defaults(item) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate_defaults(item) for item in value]
    if not isinstance(value, str):
        return value

    def resolve(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        return match["arg"] if match["op"] in (":-", "-") else ""

    return _VARIABLE.sub(resolve, value)


def variables_without_default(text: str) -> list[str]:
    """Names of the variables in ``text`` that Compose cannot resolve from the file alone."""
    return [
        m["braced"] or m["bare"]
        for m in _VARIABLE.finditer(text)
        if not m["escaped"] and m["op"] not in (":-", "-")
    ]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping (Compose accepts a mapping or a list of ``KEY=value``)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_ports(service: dict[str, Any]) -> list[str]:
    """The host ports a service publishes (short ``[ip:]host:container`` syntax or long syntax)."""
    published = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            if port.get("published"):
                published.append(str(port["published"]))
        elif str(port).count(":") >= 1:
            published.append(str(port).rsplit(":", 1)[0])
    return published


def bind_mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """A service's bind mounts, target → (source, read-only), from short (``./src:/dst:ro``) or long syntax.

    >>> bind_mounts({"volumes": ["./a.yml:/etc/a.yml:ro", "data:/var/lib", {"type": "bind", "source": "./b",
    ...     "target": "/b"}]})
    {'/etc/a.yml': ('a.yml', True), '/b': ('b', False)}
    """
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target, read_only = (
                volume.get("source", ""),
                volume["target"],
                volume.get("read_only", False),
            )
            if volume.get("type") != "bind":
                continue
        else:
            source, target, *mode = str(volume).split(":")
            read_only = "ro" in ",".join(mode).split(",")
            if not source.startswith((".", "/")):
                continue  # a named volume
        mounts[target] = (str(Path(source)), read_only)
    return mounts


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    return interpolate_defaults(raw_compose)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def compose_validator() -> jsonschema.protocols.Validator:
    schema_file = Path(str(distribution("check-jsonschema").locate_file(COMPOSE_SPEC)))
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


# --- the Compose Specification ------------------------------------------------------------------


@pytest.mark.parametrize("form", ["as written", "interpolated"])
def test_compose_file_matches_compose_spec(form, raw_compose, compose, compose_validator):
    document = raw_compose if form == "as written" else compose
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in compose_validator.iter_errors(document)
    ]
    assert errors == []


def test_compose_spec_rejects_an_unknown_service_key(compose, compose_validator):
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["restart_policy"] = "always"
    assert not compose_validator.is_valid(broken)


def test_every_variable_has_a_default():
    assert variables_without_default(COMPOSE_FILE.read_text(encoding="utf-8")) == []


# --- services and start-up order ----------------------------------------------------------------


@pytest.mark.parametrize("name", README_SERVICES)
def test_service_named_in_readme_exists(services, name):
    assert name in services


def test_depends_on_names_existing_services(services):
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_service_healthy_conditions_have_healthchecks(services):
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            if spec.get("condition") == "service_healthy":
                check = services[dependency].get("healthcheck", {})
                assert check.get("test") and not check.get("disable"), f"{name} waits on {dependency}"


@pytest.mark.parametrize(
    ("name", "dependency", "condition"),
    [
        ("worker", "kafka", "service_healthy"),
        ("worker", "postgres", "service_healthy"),
        ("worker", "migrate", "service_completed_successfully"),
        ("migrate", "postgres", "service_healthy"),
        ("simulator", "kafka", "service_healthy"),
    ],
)
def test_start_up_order(services, name, dependency, condition):
    assert services[name]["depends_on"][dependency]["condition"] == condition


@pytest.mark.parametrize("name", ["kafka", "postgres", "worker"])
def test_long_running_service_has_a_healthcheck(services, name):
    check = services[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and not check.get("disable")


def test_postgres_healthcheck_uses_pg_isready(services):
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_kafka_healthcheck_uses_a_kafka_client(services):
    command = " ".join(services["kafka"]["healthcheck"]["test"])
    assert re.search(r"/opt/kafka/bin/kafka-(broker-api-versions|topics)\.sh", command)


def test_migrate_runs_once(services):
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"] == ["migrate"]


@pytest.mark.parametrize(("name", "command"), [("worker", ["worker"]), ("simulator", ["simulate"])])
def test_app_service_command(services, name, command):
    assert services[name]["command"] == command


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_is_built_from_the_project_dockerfile(services, name):
    build = services[name]["build"]
    assert (build if isinstance(build, str) else build["context"]) == "."
    assert services[name]["image"] == services["worker"]["image"]


# --- a scalable worker --------------------------------------------------------------------------


def test_worker_has_no_container_name(services):
    assert "container_name" not in services["worker"]


def test_worker_publishes_no_host_port(services):
    assert published_ports(services["worker"]) == []


def test_worker_exposes_its_web_port(services):
    web_port = environment(services["worker"])["FLASHSALE_WEB_PORT"]
    assert web_port in [str(port) for port in services["worker"]["expose"]]


# --- monitoring: Prometheus and Grafana provisioned from infra/ ------------------------------------


@pytest.mark.parametrize(("name", "repository"), MONITORING_IMAGES.items())
def test_monitoring_service_is_a_pinned_official_image(services, name, repository):
    image, tag = services[name]["image"].rsplit(":", 1)
    assert image == repository and re.fullmatch(r"v?\d+\.\d+\.\d+", tag)


@pytest.mark.parametrize(
    ("name", "source", "target"),
    [
        ("prometheus", "infra/prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml"),
        ("prometheus", "infra/prometheus/alerts.yml", "/etc/prometheus/alerts.yml"),
        ("grafana", "infra/grafana/provisioning/datasources", "/etc/grafana/provisioning/datasources"),
        ("grafana", "infra/grafana/provisioning/dashboards", "/etc/grafana/provisioning/dashboards"),
    ],
)
def test_monitoring_is_provisioned_from_infra(services, name, source, target):
    assert bind_mounts(services[name]).get(target) == (source, True)


@pytest.mark.parametrize("name", MONITORING_IMAGES)
def test_monitoring_mounts_are_read_only_files_of_the_repository(services, name):
    mounts = bind_mounts(services[name])
    assert mounts and all(read_only and (ROOT / source).exists() for source, read_only in mounts.values())


@pytest.mark.parametrize(("name", "data"), [("prometheus", "/prometheus"), ("grafana", "/var/lib/grafana")])
def test_monitoring_keeps_its_data_in_a_named_volume(compose, services, name, data):
    named = {f"{volume}:{data}" for volume in compose["volumes"]}
    assert named & {str(volume) for volume in services[name]["volumes"]}


def test_prometheus_reads_the_mounted_config(services):
    prometheus = services["prometheus"]
    (config,) = [arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file=")]
    assert bind_mounts(prometheus)[config][0] == "infra/prometheus/prometheus.yml"


def test_prometheus_loads_the_mounted_rules(services):
    config = yaml.safe_load((ROOT / "infra/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    mounted = {source: target for target, (source, _) in bind_mounts(services["prometheus"]).items()}
    assert [f"/etc/prometheus/{name}" for name in config["rule_files"]] == [
        mounted["infra/prometheus/alerts.yml"]
    ]


def test_prometheus_scrapes_every_worker_on_its_web_port(services):
    config = yaml.safe_load((ROOT / "infra/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "flashsale-worker"]
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["worker"] and discovery["type"] == "A"  # one record per scaled container
    assert str(discovery["port"]) == environment(services["worker"])["FLASHSALE_WEB_PORT"]
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_grafana_datasource_is_the_prometheus_service(services):
    provisioning = ROOT / "infra/grafana/provisioning/datasources/prometheus.yml"
    (datasource,) = yaml.safe_load(provisioning.read_text(encoding="utf-8"))["datasources"]
    container_ports = [str(port).rsplit(":", 1)[-1] for port in services["prometheus"]["ports"]]
    assert datasource["url"] == f"http://prometheus:{container_ports[0]}"


def test_grafana_dashboards_are_mounted_where_the_provider_reads(services):
    provisioning = ROOT / "infra/grafana/provisioning/dashboards/flashsale.yml"
    (provider,) = yaml.safe_load(provisioning.read_text(encoding="utf-8"))["providers"]
    assert bind_mounts(services["grafana"])[provider["options"]["path"]] == ("infra/grafana/dashboards", True)


def test_grafana_home_is_a_provisioned_dashboard(services):
    home = Path(environment(services["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    source, _ = bind_mounts(services["grafana"])[str(home.parent)]
    assert (ROOT / source / home.name).is_file()


def test_every_published_port_is_bound_to_localhost(services):
    for name, service in services.items():
        assert all(port.startswith("127.0.0.1:") for port in published_ports(service)), name


# --- Kafka: one KRaft node ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_env(services) -> dict[str, str]:
    return environment(services["kafka"])


def test_kafka_is_the_official_image(services):
    assert services["kafka"]["image"].startswith("apache/kafka:")


def test_kafka_is_a_combined_kraft_node(kafka_env):
    assert set(kafka_env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any(key.startswith("KAFKA_ZOOKEEPER") for key in kafka_env)


def test_kafka_votes_for_itself(kafka_env):
    (voter,) = kafka_env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voter.split("@")[0] == kafka_env["KAFKA_NODE_ID"]


@pytest.mark.parametrize(
    "key",
    [
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS",
    ],
)
def test_kafka_single_node_setting(kafka_env, key):
    expected = "0" if key.endswith("DELAY_MS") else "1"
    assert kafka_env[key] == expected


def test_kafka_listeners_all_have_a_protocol(kafka_env):
    mapped = {pair.split(":")[0] for pair in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    listeners = {listener.split("://")[0] for listener in kafka_env["KAFKA_LISTENERS"].split(",")}
    assert listeners <= mapped


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_use_the_advertised_internal_listener(services, kafka_env, name):
    broker = environment(services[name])["FLASHSALE_BROKER_URL"].removeprefix("kafka://")
    advertised = [listener.split("://")[1] for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    assert broker in advertised


def test_postgres_keeps_its_data_in_a_named_volume(compose, services):
    volumes = [str(volume).split(":")[0] for volume in services["postgres"]["volumes"]]
    assert any(volume in compose["volumes"] for volume in volumes)


# --- settings and secrets -----------------------------------------------------------------------


def test_flashsale_variables_are_settings(services):
    fields = {f"FLASHSALE_{name.upper()}" for name in Settings.model_fields}
    used = {
        key for service in services.values() for key in environment(service) if key.startswith("FLASHSALE_")
    }
    assert used - fields == set()


def test_secrets_are_interpolated_not_literal(raw_compose):
    for name, service in raw_compose["services"].items():
        for key, value in environment(service).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert _DEFAULTED.fullmatch(value), f"{name}.{key} holds a literal secret"


def test_urls_carry_no_literal_password(raw_compose):
    for name, service in raw_compose["services"].items():
        for key, value in environment(service).items():
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert _DEFAULTED.fullmatch(password), f"{name}.{key} holds a literal password"


# --- Dockerfile and .dockerignore ---------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_image_is_python_311_slim(dockerfile):
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, re.MULTILINE)


def test_every_pip_install_is_constrained(dockerfile):
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs and all("-c constraints.txt" in line for line in installs)


def test_image_runs_flashsale_as_non_root(dockerfile):
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["flashsale"\]$', dockerfile, re.MULTILINE)


@pytest.mark.parametrize("path", [".venv", ".git", "flashsale-report", "**/__pycache__", ".env"])
def test_dockerignore_excludes(path):
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert path in lines
