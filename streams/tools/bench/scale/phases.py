"""``flashsale bench scale``: a sale with many users and SKUs, through the real stack, on split roles.

Every worker is a real ``flashsale worker`` process with RocksDB state (and the standby replicas the
settings ask for), ``skus`` and
``users`` each in a consumer group of their own. One sale per catalog size:

1. **Build.** ``skus`` listings (half in a campaign) with their stock, then one click per user for
   ``users`` users and a stock count at the sale's start, drained by one worker per role: the state a
   sale starts from, every SKU's buckets closed up to it. Changelog records and bytes per user and per
   SKU are read afterwards.
2. **Windows.** For each worker count *n*: first a stretch of sale traffic during which the new workers
   join (``rebalance_pause_s``: the longest a partition with input left went without a commit), then,
   once every worker has recovered, a window of ``window`` sale events: events/s, and events per
   CPU-second of all workers (psutil user + system time, standbys' work included). Scale-out efficiency
   is events per CPU-second at *n* ÷ at one worker.
3. **Recovery** (after the one-worker window): both workers are SIGKILLed, a probe of sale events is
   published and they are restarted on their data directories: ``recovery_s`` until both groups have
   committed the probe. **Takeover** (after the last window): the worker of each role holding the most
   state is SIGKILLed, a probe is published, and ``takeover_s`` runs until the survivors have committed
   it. **Full restore**: a lone users worker with in-memory tables on an empty directory replays the
   whole changelog, which is what every restart cost before local state.
4. **Decisions**: those in Postgres, made across worker counts, kills and restarts, against one
   uninterrupted in-process pass over the same input (:mod:`streams.tools.bench.decisions`).

The same build and one-worker window on a small catalog give ``large_vs_small_catalog``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kafka import TopicPartition

from models.sim.events import SimEvent
from streams.contracts.topics import SKU_EVENTS
from streams.settings import Settings
from streams.tools.bench.common import rate
from streams.tools.bench.measure import end_offsets, scrape_metrics
from streams.tools.bench.produce import Producer
from streams.tools.bench.scale.fleet import ROLES, Fleet, Member
from streams.tools.bench.scale.load import START, catalog, clicks, sale_opens, sale_window
from streams.tools.bench.scale.progress import Progress
from streams.tools.bench.scale.readings import sku_state_behind_s, topic_size
from streams.tools.bench.stack import Say

ROLE_TOPICS = {"skus": ("catalog", "stock", "orders"), "users": ("clicks", "orders"),
               "all": ("catalog", "stock", "orders", "clicks")}  # fmt: skip
DECISION_INPUT = ("catalog", "stock", "orders")


@dataclass(frozen=True)
class ScaleBench:
    """Distinct users (one click each), SKUs, worker counts, sale events per window, probe events."""

    users: int = 1_000_000
    skus: int = 10_000
    workers: tuple[int, ...] = (1, 2, 4)
    window: int = 300_000
    probe: int = 5_000
    small_skus: int = 40
    all_role: bool = True  # also one worker of role all over the whole large sale (its RSS)
    step_ms: int = 1  # event time between two events: 300,000 events are 5 minutes of the sale


@dataclass
class Sale:
    """One namespace's sale: its workers, the decision input published so far, its event-time cursor."""

    ns: Settings
    fleet: Fleet
    cfg: ScaleBench
    skus: int
    say: Say
    decision_input: list[SimEvent] = field(default_factory=list)
    clock: datetime = START
    published: int = 0

    def publish(self, events: list[SimEvent], desc: str) -> int:
        producer = Producer(self.ns)
        producer.send_all(events, desc=desc)
        producer.close()
        self.decision_input += [e for e in events if e.topic in DECISION_INPUT]
        self.clock += timedelta(milliseconds=len(events) * self.cfg.step_ms)
        self.published += len(events)
        return len(events)

    def traffic(self, n: int) -> list[SimEvent]:
        """``n`` sale events from the cursor on (a seed of their own, so no two stretches repeat)."""
        seed = self.published
        return sale_window(
            n, self.cfg.users, self.skus, start=self.clock, seed=seed, step_ms=self.cfg.step_ms
        )

    def progress(self, fleet: Fleet | None = None) -> Progress:
        """Progress of the groups of ``fleet``'s roles (default: the sale's) towards what is published."""
        fleet = fleet or self.fleet
        ends = end_offsets(self.ns, sorted(ROLE_TOPICS["all"]))
        groups = {}
        for role in {m.role for m in fleet.members}:
            topics = ROLE_TOPICS[role]
            names = {self.ns.topic(t) for t in topics}
            groups[fleet.group(role)] = {tp: e for tp, e in ends.items() if tp.topic in names}
        return Progress(self.ns, groups)


def build(sale: Sale) -> dict[str, Any]:
    """Publish the catalog, one click per user and a stock count at the sale's start; drain them with one
    worker per role, the per-SKU agent included."""
    cfg = sale.cfg
    opens = START + timedelta(milliseconds=cfg.users)  # the clicks take a millisecond each
    build_events = catalog(sale.skus) + clicks(range(cfg.users), sale.skus, "clk") + [sale_opens(opens)]
    events = sale.publish(build_events, "publish the build")
    sale.clock = opens
    sale.fleet.scale(1)
    progress = sale.progress()
    try:
        seconds = progress.wait_done(sale.fleet.check_alive, "build state")
    finally:
        progress.close()
    seconds += drain_sku_events(sale)
    behind = sku_state_behind_s(sale.ns, opens)
    sale.say(f"built: {events:,} events in {seconds:,.0f} s (startup included); the least advanced SKU's "
             f"open bucket starts {behind:.0f} s before the sale")  # fmt: skip
    local = {role: sum(m.state_bytes() for m in sale.fleet.live(role)) for role in ROLES}
    return {
        "build_events": events, "build_s": round(seconds, 1), "build_sku_state_behind_s": round(behind, 1),
        **changelog_sizes(sale),
        "local_state_bytes_per_user": round(local["users"] / cfg.users, 1),
        "local_state_bytes_per_sku": round(local["skus"] / sale.skus, 1),
    }  # fmt: skip


def drain_sku_events(sale: Sale) -> float:
    """Seconds until the skus group has applied what its forwarders wrote to ``sku-events`` so far: the
    input's commits say only that it was forwarded."""
    progress = Progress(sale.ns, {sale.fleet.group("skus"): end_offsets(sale.ns, [SKU_EVENTS])})
    try:
        return progress.wait_done(sale.fleet.check_alive, "per-SKU state")
    finally:
        progress.close()


def window(sale: Sale, n: int) -> dict[str, Any]:
    """Scale to ``n`` workers per role during a stretch of traffic, then time a window of sale events."""
    fleet, pause = sale.fleet, None
    if len(fleet.live("users")) < n:
        sale.publish(sale.traffic(max(sale.cfg.window // 5, 1)), f"[{n}] traffic while workers join")
        progress = sale.progress()
        fleet.mark_ready()
        fleet.scale(n)
        try:
            pause = progress.longest_stall(fleet.ready, fleet.check_alive)
            progress.wait_done(fleet.check_alive, f"[{n}] the joining stretch")
        finally:
            progress.close()
        sale.say(f"[{n}] workers joined: the longest stall of a partition was {pause:.1f} s")
    before = sale.progress()
    before.close()  # everything published so far is committed: what the window adds is its own
    events = sale.publish(sale.traffic(sale.cfg.window), f"[{n}] publish the window")
    progress = sale.progress()
    try:
        measured = progress.window(lambda: True, fleet.check_alive, f"[{n}] window", fleet.cpu)
    finally:
        progress.close()
    # Committed offsets count an order once per role: the share of the window's offsets done in it.
    done = round(events * measured.events / (progress.total - before.total))
    cpu = {
        role: sum(measured.delta(k) for k in measured.closed if k.startswith(f"cpu:{role}-"))
        for role in ROLES
    }
    per_s, per_cpu_s = rate(done, measured.seconds), rate(done, sum(cpu.values()))
    sale.say(f"[{n}] {per_s:,.0f} events/s, {per_cpu_s:,.0f} per CPU-second")
    return {
        "events_per_s": round(per_s, 1), "events_per_cpu_s": round(per_cpu_s, 1), "pause_s": pause,
        "events_per_cpu_s_by_role": {role: round(rate(done, s), 1) for role, s in cpu.items() if s > 0},
    }  # fmt: skip


def probe(sale: Sale, desc: str) -> tuple[Progress, dict[tuple[str, TopicPartition], int]]:
    """Publish a probe of sale traffic; progress towards it, and where every partition stood before."""
    before = sale.progress()
    try:
        since = before.by_partition() or {}
    finally:
        before.close()
    sale.publish(sale.traffic(sale.cfg.probe), f"{desc}: publish a probe")
    return sale.progress(), since


def resumed(
    sale: Sale, progress: Progress, since: dict[tuple[str, TopicPartition], int], desc: str
) -> dict[str, float]:
    """Seconds until every partition committed some of the probe, and until all of it (from now)."""
    began = time.monotonic()
    try:
        first = progress.wait_resumed(since, sale.fleet.check_alive)
        progress.wait_done(sale.fleet.check_alive, desc)
    finally:
        progress.close()
    return {"resumed_s": round(first, 2), "probe_s": round(time.monotonic() - began, 2)}


def recovery(sale: Sale) -> dict[str, Any]:
    """SIGKILL every worker, publish a probe, restart them on their data dirs: until every partition
    has committed some of it (decisions and lists resumed), and until all of it."""
    victims = sale.fleet.live()
    for member in victims:
        sale.fleet.kill(member)
    progress, since = probe(sale, "recovery")
    restarted = [sale.fleet.start(m.role, m.index) for m in victims]
    took = resumed(sale, progress, since, "recovery")
    users = next(m for m in restarted if m.role == "users")
    restored = scrape_metrics(users.settings.web_port).get(
        'flashsale_state_restored_total{table="users"}', 0.0
    )
    sale.say(f"recovery after SIGKILL: every partition again after {took['resumed_s']:.1f} s, the probe "
             f"after {took['probe_s']:.1f} s ({restored:,.0f} changelog records replayed)")  # fmt: skip
    return {"recovery_s": took["resumed_s"], "recovery_probe_s": took["probe_s"],
            "recovery_restored_records": restored}  # fmt: skip


def takeover(sale: Sale) -> dict[str, Any]:
    """SIGKILL each role's worker with the most local state, publish a probe: until the survivors have
    committed some of it on every partition, and all of it."""
    for role in ("skus", "users"):
        sale.fleet.kill(max(sale.fleet.live(role), key=Member.state_bytes))
    progress, since = probe(sale, "takeover")
    took = resumed(sale, progress, since, "takeover")
    sale.say(f"takeover by the surviving workers: every partition again after {took['resumed_s']:.1f} s")
    return {"takeover_s": took["resumed_s"], "takeover_probe_s": took["probe_s"]}


def full_restore(sale: Sale) -> dict[str, Any]:
    """A lone users worker, in-memory tables, empty data dir: until it has committed a probe."""
    sale.fleet.stop()
    sale.publish(sale.traffic(sale.cfg.probe), "full restore: publish a probe")
    fleet = Fleet(sale.ns, sale.fleet.app_id, sale.fleet.logs / "full-restore", store="memory")
    fleet.start("users")
    progress = sale.progress(fleet)
    try:
        seconds = progress.wait_done(fleet.check_alive, "full restore")
        web_port = fleet.live()[0].settings.web_port
        restored = scrape_metrics(web_port).get('flashsale_state_restored_total{table="users"}', 0.0)
    finally:
        progress.close()
        fleet.stop()
    sale.say(f"full restore without local state: {seconds:.1f} s ({restored:,.0f} changelog records)")
    return {"full_restore_s": round(seconds, 2), "full_restore_records": restored}


def changelog_sizes(sale: Sale) -> dict[str, float]:
    """Records (log end offsets) and bytes on disk of the users and SKU changelogs, per user / SKU."""
    out = {}
    for name, table, count in (("user", "users", sale.cfg.users), ("sku", "sku-slots", sale.skus)):
        topic = f"{sale.fleet.group(ROLE_OF_TABLE[table])}-{table}-changelog"
        records, size = topic_size(sale.ns, topic)
        out[f"changelog_records_per_{name}"] = round(records / count, 3)
        out[f"changelog_bytes_per_{name}"] = round(size / count, 1)
    return out


ROLE_OF_TABLE = {"users": "users", "sku-slots": "skus"}


def all_role(sale: Sale) -> dict[str, Any]:
    """One worker of role ``all`` (both paths in one process) over the build (every user once): its
    peak RSS."""
    fleet = Fleet(sale.ns, f"{sale.fleet.app_id}-all", sale.fleet.logs / "all")
    fleet.start("all")
    progress = sale.progress(fleet)
    try:
        upto = 2 * sale.skus + sale.cfg.users  # the catalog, its stock and the first click of every user
        seconds = progress.wait_done(fleet.check_alive, "role all over the build", upto=upto)
    finally:
        progress.close()
        fleet.stop()
    sale.say(f"role all: the build in {seconds:,.0f} s, peak RSS {fleet.peak_rss_mb['all']:,.0f} MB")
    return {"all_role_s": round(seconds, 1), "rss_mb_all": round(fleet.peak_rss_mb["all"], 1)}
