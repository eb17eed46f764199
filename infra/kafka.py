"""A local single-node Apache Kafka (KRaft) broker: jars from Maven Central, run as a detached JVM.

>>> KafkaServer(Path("/tmp/fs"), port=19092).bootstrap
'127.0.0.1:19092'
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from infra import kafka_config
from infra.errors import InfraError
from infra.java import find_java
from infra.kafka_config import new_cluster_id
from infra.maven import MARKER, maven_jars
from infra.net import alive, command_line, port_in_use, send_signal, wait_exit

# The newest release whose jars all resolve on Maven Central (4.4.0 lacks kafka-tools-api there) and
# that aiokafka 0.14 / faust-streaming 0.15.3 / kafka-python 3.0.12 were probed against.
KAFKA_VERSION = "4.3.1"
# Kafka 4.x ships log4j2 behind slf4j 1.7; the same log4j version as its own distribution's libs/.
LOGGING_BACKEND = "org.apache.logging.log4j:log4j-slf4j-impl:2.25.4"
# Serial GC: the fastest start and the smallest footprint on a 2-core laptop (measured against G1).
_JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]


def cache_dir(version: str = KAFKA_VERSION, cache_root: Path | None = None) -> Path:
    """Where the jars of ``version`` live: ``$FLASHSALE_CACHE_DIR`` or ``~/.cache/flashsale``."""
    root = cache_root or Path(os.environ.get("FLASHSALE_CACHE_DIR") or Path.home() / ".cache" / "flashsale")
    return root / f"kafka-{version}"


def ensure_kafka_jars(
    version: str = KAFKA_VERSION,
    cache_root: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """The directory of every jar the broker needs, fetched once from Maven Central with ``mvn``."""
    target = cache_dir(version, cache_root)
    if progress and not (target / MARKER).exists():
        progress(f"downloading Apache Kafka {version} jars from Maven Central (once)")
    return maven_jars([f"org.apache.kafka:kafka_2.13:{version}", LOGGING_BACKEND], target)


def _meaningful_line(text: str, prefer_errors: bool = True) -> str:
    """The line of a log worth showing a user: the last error if any (or wanted), else the last line."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("at ", "..."))]  # stack frames
    errors = [line for line in lines if " ERROR " in line or "Exception" in line] if prefer_errors else []
    return (errors or lines or ["no log output"])[-1][:300]


def answers_metadata(bootstrap: str, timeout_ms: int = 3000, node_id: int | None = None) -> bool:
    """Whether a broker answers a metadata request and lists itself (so it is unfenced, serving).

    ``node_id``: the broker's own id, for a node of a cluster (whose metadata lists the others too).
    """
    from kafka.admin import KafkaAdminClient  # lazy: only the launcher needs kafka-python

    host, _, port = bootstrap.rpartition(":")
    try:  # a plain connect fails at once while the port is closed; the admin client would wait
        socket.create_connection((host, int(port)), timeout=1).close()
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms
        )
    except Exception:  # any failure here just means "not ready yet"
        return False
    try:
        brokers = admin.describe_cluster().get("brokers") or []
        return bool(brokers) if node_id is None else any(b.get("broker_id") == node_id for b in brokers)
    except Exception:
        return False
    finally:
        admin.close()


class KafkaServer:
    """One local Kafka node (broker + controller) whose files all live under ``<data_dir>/kafka``.

    Alone by default; :class:`infra.kafka_cluster.KafkaCluster` makes nodes of a cluster with
    ``node_id``, ``quorum`` (every voter), ``replicas``/``min_insync`` and the cluster's ``cluster_id``.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 9092,
        controller_port: int = 9093,
        host: str = "127.0.0.1",
        heap: str = "512m",
        *,
        node_id: int = 1,
        quorum: str | None = None,
        replicas: int = 1,
        min_insync: int = 1,
        cluster_id: str | None = None,
    ) -> None:
        self.root = Path(data_dir) / "kafka"
        self.port, self.controller_port, self.host, self.heap = port, controller_port, host, heap
        self.node_id, self.quorum, self.cluster_id = node_id, quorum, cluster_id
        self.replicas, self.min_insync = replicas, min_insync
        self.logs, self.pid_file, self.config = (
            self.root / "logs",
            self.root / "kafka.pid",
            self.root / "server.properties",
        )
        self._log_start = 0  # where this start's part of server.log begins

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"{self.host}:{self.port}"

    def pid(self) -> int | None:
        """The pid of this data dir's broker, or None; a stale or reused pid counts as not running."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) and str(self.config) in command_line(pid) else None

    def is_running(self) -> bool:
        """Whether the broker process of this data dir is alive (it may still be starting)."""
        return self.pid() is not None

    def status(self) -> dict[str, object]:
        """A summary for ``flashsale status``."""
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "bootstrap": self.bootstrap,
            "data_dir": str(self.root.parent),
            "log": str(self.logs / "server.log"),
            "version": KAFKA_VERSION,
        }

    def start(self, timeout: float = 90) -> None:
        """Start the broker detached (it outlives this process) and wait until it serves metadata."""
        self.wait_started(self.launch(), timeout)

    def launch(self) -> subprocess.Popen[bytes] | None:
        """Start the broker detached without waiting for it; None if it runs already (on our ports).

        A node of a cluster serves only once a majority of the voters runs: the cluster launches
        every node first, then waits for each with :meth:`wait_started`.
        """
        if self.is_running():
            self._check_running_ports()
            return None
        self.check_ports()
        java, jars = find_java(), ensure_kafka_jars()
        self._write_config()
        if not (self.root / "data" / "meta.properties").exists():
            self._format(java, jars)
        log = self.logs / "server.log"
        self._log_start = log.stat().st_size if log.exists() else 0
        with open(self.logs / "server.out", "wb") as out:  # JVM errors that happen before log4j starts
            proc = subprocess.Popen(
                [*self._jvm(java, jars), "kafka.Kafka", str(self.config)],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session: the CLI exiting or Ctrl-C does not stop the broker
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc

    def wait_started(self, proc: subprocess.Popen[bytes] | None, timeout: float = 90) -> None:
        """Wait until the broker ``launch`` started serves; stopped again if it does not.

        ``proc`` None (it ran already): a no-op if it answers; waits if another caller is starting it.
        """
        if proc is None:
            self._wait_ready(timeout)
            return
        try:
            self._wait_ready(timeout, exited=lambda: proc.poll() is not None)
        except InfraError:
            self.stop(timeout=10)  # never leave a half-started broker holding the ports
            raise

    def stop(self, timeout: float = 30) -> None:
        """Stop the broker: SIGTERM (clean shutdown), then SIGKILL after ``timeout`` seconds."""
        pid = self.pid()
        if pid is not None:
            send_signal(pid, signal.SIGTERM)
            if not wait_exit(pid, timeout):
                send_signal(pid, signal.SIGKILL)
                wait_exit(pid, 10)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would (chaos tests); the next ``start`` recovers its logs."""
        pid = self.pid()
        if pid is not None:
            send_signal(pid, signal.SIGKILL)
            wait_exit(pid, 10)
        self.pid_file.unlink(missing_ok=True)

    def check_ports(self) -> None:
        """InfraError (one line, naming the port and its setting) if a port of ours is taken."""
        for port, name, env in (
            (self.port, "Kafka port", "FLASHSALE_KAFKA_PORT"),
            (self.controller_port, "Kafka controller port", "FLASHSALE_KAFKA_CONTROLLER_PORT"),
        ):
            if port_in_use(self.host, port):
                raise InfraError(f"{name} {port} is already in use (set {env})")

    def _check_running_ports(self) -> None:
        """InfraError if this data dir's broker runs on other ports than asked for (it would never answer)."""
        try:
            running = kafka_config.listener_ports(self.config.read_text())
        except OSError:
            return
        if running is not None and running != (self.port, self.controller_port):
            ports = "/".join(map(str, running))
            raise InfraError(f"Kafka of {self.root} already runs on ports {ports}: stop it first")

    def _wait_ready(self, timeout: float, exited: Callable[[], bool] | None = None) -> None:
        """Wait until the broker serves; ``exited`` tells a death apart from a slow start."""
        exited = exited or (lambda: not self.is_running())
        deadline = time.monotonic() + timeout
        while not answers_metadata(self.bootstrap, node_id=self.node_id if self.quorum else None):
            if exited():
                raise InfraError(f"Kafka exited during start: {self._last_log_line()}")
            if time.monotonic() > deadline:
                raise InfraError(
                    f"Kafka not ready on {self.bootstrap} after {timeout:.0f}s: {self._last_log_line()}"
                )
            time.sleep(0.3)

    def _last_log_line(self) -> str:
        """The most telling line this start logged: JVM output first, then its part of server.log."""
        out, log = self.logs / "server.out", self.logs / "server.log"
        logged = ""
        if log.exists():
            with open(log, "rb") as fh:
                fh.seek(self._log_start)
                logged = fh.read().decode(errors="replace")
        if " ERROR " in logged or not out.exists() or not out.read_text().strip():
            return _meaningful_line(logged)
        return _meaningful_line(out.read_text(errors="replace"), prefer_errors=False)  # JVM: reason last

    def _jvm(self, java: str, jars: Path) -> list[str]:
        log4j = f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}"
        return [java, f"-Xms{self.heap}", f"-Xmx{self.heap}", *_JVM_FLAGS, log4j, "-cp", str(jars / "*")]

    def _format(self, java: str, jars: Path) -> None:
        """Format the KRaft metadata log of a new data dir with its cluster's id (a fresh one alone)."""
        cluster_id = self.cluster_id or new_cluster_id()
        cmd = [*self._jvm(java, jars), "kafka.tools.StorageTool", "format", "-t", cluster_id]
        done = subprocess.run([*cmd, "-c", str(self.config)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise InfraError(f"Kafka storage format failed: {_meaningful_line(done.stdout + done.stderr)}")

    def _write_config(self) -> None:
        """Write server.properties and the log config on every start, so port changes apply."""
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.root / "log4j2.properties").write_text(kafka_config.log4j2_properties(self.logs))
        props = kafka_config.server_properties(
            self.root / "data",
            self.port,
            self.controller_port,
            self.host,
            node_id=self.node_id,
            quorum=self.quorum,
            replicas=self.replicas,
            min_insync=self.min_insync,
        )
        self.config.write_text(props)
