"""Workers of the split roles for ``flashsale bench scale``: each role a consumer group of its own, each
worker a data directory (its RocksDB state) and a web port of its own, started, killed and restarted.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient

from infra.errors import InfraError
from infra.net import free_port
from streams.app import group_id
from streams.runtime.admin import client_config
from streams.settings import Settings
from streams.tools.bench.pipeline import WORKER
from streams.tools.bench.process import BenchProcess

ROLES = ("skus", "users")
RECOVERED = "Worker ready"  # Faust logs it when a worker has recovered its tables after each rebalance


@dataclass
class Member:
    """One worker: its role, its place (data dir, log) and its current process."""

    role: str
    index: int
    settings: Settings
    log: Path
    proc: BenchProcess
    wanted: bool = True  # False once killed or stopped on purpose
    ready_seen: int = 0  # "Worker ready" lines of this process when last asked

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"

    def recoveries(self) -> int:
        return self.proc.log.text().count(RECOVERED)

    def state_bytes(self) -> int:
        """Bytes of local state on disk (its RocksDB tables)."""
        return sum(f.stat().st_size for f in self.settings.data_dir.rglob("*") if f.is_file())


@dataclass
class Fleet:
    """The workers of one bench namespace, by role."""

    ns: Settings
    app_id: str
    logs: Path
    store: str = "rocksdb"
    members: list[Member] = field(default_factory=list)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # role → the largest worker's peak
    _admin: KafkaAdminClient | None = None

    def settings_for(self, role: str, index: int) -> Settings:
        return self.ns.model_copy(update={
            "app_id": self.app_id, "worker_role": role, "table_store": self.store, "web_port": free_port(),
            "data_dir": self.logs / f"{role}-{index}", "log_level": "INFO",
        })  # fmt: skip

    def group(self, role: str) -> str:
        return group_id(self.settings_for(role, 0))

    def live(self, role: str | None = None) -> list[Member]:
        """The workers meant to run (one that died unasked is still here: :meth:`check_alive` says so)."""
        return [m for m in self.members if m.wanted and role in (None, m.role)]

    def start(self, role: str, index: int | None = None) -> Member:
        """A worker of ``role``: a new one, or (``index``) one restarted on that worker's data dir."""
        if index is None:
            index = 1 + max((m.index for m in self.members if m.role == role), default=-1)
        s = self.settings_for(role, index)
        log = self.logs / f"{role}-{index}.log"
        member = Member(role, index, s, log, BenchProcess(s, log, WORKER))
        self.members = [m for m in self.members if (m.role, m.index) != (role, index)] + [member]
        return member

    def scale(self, n: int) -> list[Member]:  # the split roles
        """Start workers until every role has ``n``; the new ones."""
        return [self.start(role) for role in ROLES for _ in range(n - len(self.live(role)))]

    def kill(self, member: Member) -> None:
        """SIGKILL: no shutdown, no final commit, nothing flushed."""
        self.note_rss(member)
        member.wanted = False
        member.proc.stop(signal.SIGKILL)

    def note_rss(self, member: Member) -> None:
        peak = self.peak_rss_mb.get(member.role, 0.0)
        self.peak_rss_mb[member.role] = max(peak, member.proc.peak_rss_mb)

    def check_alive(self) -> None:
        for member in self.live():
            member.proc.check_alive()

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each live worker, by name (a snapshot for :class:`Window`)."""
        return {f"cpu:{m.name}:{m.proc.pid}": m.proc.cpu_seconds() for m in self.live()}

    def mark_ready(self) -> None:
        """Remember how often each worker has recovered so far (see :meth:`wait_ready`)."""
        for member in self.live():
            member.ready_seen = member.recoveries()

    def ready(self) -> bool:
        """Whether every live worker has recovered since :meth:`mark_ready` (a new one: once) and each
        role's group is stable with all of them."""
        if not all(m.recoveries() > m.ready_seen for m in self.live()):
            return False
        if self._admin is None:
            self._admin = KafkaAdminClient(**client_config(self.ns), client_id="flashsale-bench")
        groups = {role: self.group(role) for role in {m.role for m in self.live()}}
        described = self._admin.describe_groups(list(groups.values()))
        return all(
            described[group]["group_state"] == "Stable"
            and len(described[group]["members"]) == len(self.live(role))
            for role, group in groups.items()
        )

    def wait_ready(self, timeout_s: float = 900) -> float:
        """Until :meth:`ready`; the seconds it took."""
        began = time.monotonic()
        while not self.ready():
            self.check_alive()
            if time.monotonic() > began + timeout_s:
                raise InfraError(f"workers not ready after {timeout_s:.0f} s (logs: {self.logs})")
            time.sleep(0.2)
        return time.monotonic() - began

    def stop(self) -> None:
        for member in self.live():
            self.note_rss(member)
            member.wanted = False
            member.proc.stop()
        if self._admin is not None:
            self._admin.close()
            self._admin = None
