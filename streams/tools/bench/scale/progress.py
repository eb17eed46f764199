"""Progress of several consumer groups at once (the split roles each commit in a group of their own),
read from their committed offsets: whether they are done, a throughput window, the longest stall of a
partition that still had input while workers joined.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError
from tqdm import tqdm

from infra.errors import InfraError
from streams.runtime.admin import client_config
from streams.settings import Settings
from streams.tools.bench.measure import Ends, Window


@dataclass
class Progress:
    """Committed offsets of ``groups`` (group → the input partitions it reads, with their end offsets)."""

    settings: Settings
    groups: Mapping[str, Ends]
    admin: KafkaAdminClient = field(init=False)

    def __post_init__(self) -> None:
        self.admin = KafkaAdminClient(**client_config(self.settings), client_id="flashsale-bench")

    @property
    def total(self) -> int:
        return sum(sum(ends.values()) for ends in self.groups.values())

    def by_partition(self) -> dict[tuple[str, TopicPartition], int] | None:
        """Each group's committed offset per partition (capped at its end); None while unknown."""
        out = {}
        for group, ends in self.groups.items():
            try:
                offsets = self.admin.list_group_offsets({group: list(ends)}).get(group, {})
            except KafkaError:  # the coordinator is moving, or not there yet
                return None
            for tp, end in ends.items():
                found = offsets.get(tp)
                out[group, tp] = min(max(found.offset, 0), end) if found is not None else 0
        return out

    def done(self) -> int | None:
        committed = self.by_partition()
        return None if committed is None else sum(committed.values())

    def wait_done(
        self, alive: Callable[[], None], desc: str, timeout_s: float = 3600, upto: int | None = None
    ) -> float:
        """Until every group has committed every end (or ``upto`` events in all); the seconds it took."""
        began, deadline, target = time.monotonic(), time.monotonic() + timeout_s, upto or self.total
        with tqdm(total=target, desc=desc, unit="ev", file=sys.stderr, mininterval=0.5, leave=False) as bar:
            while (done := self.done()) is None or done < target:
                alive()
                bar.update((done or 0) - bar.n)
                if time.monotonic() > deadline:
                    raise InfraError(f"{desc}: {done} of {target} committed after {timeout_s:.0f} s")
                time.sleep(0.1)
        return time.monotonic() - began

    def wait_resumed(self, since: dict[tuple[str, TopicPartition], int], alive: Callable[[], None]) -> float:
        """Until every partition with input beyond its offset in ``since`` (a :meth:`by_partition` read
        before) has committed some of it: every partition resumed. The seconds it took."""
        began = time.monotonic()
        while True:
            alive()
            committed = self.by_partition()
            waiting = committed is None or any(
                committed[key] <= since.get(key, 0) < self.groups[key[0]][key[1]] for key in committed
            )
            if not waiting:
                return time.monotonic() - began
            time.sleep(0.1)

    def window(
        self, started: Callable[[], bool], alive: Callable[[], None], desc: str,
        snapshot: Callable[[], dict[str, float]] = dict, timeout_s: float = 3600,
    ) -> Window:  # fmt: skip
        """From the first commit after ``started()`` holds to the last: committed offsets done in it
        (orders count once per group that reads them) and ``snapshot()`` at both ends."""
        deadline, opened = time.monotonic() + timeout_s, None
        baseline: int | None = None
        with tqdm(
            total=self.total, desc=desc, unit="ev", file=sys.stderr, mininterval=0.5, leave=False
        ) as bar:
            while True:
                alive()
                now, done = time.monotonic(), self.done()
                if done is not None:
                    bar.update(done - bar.n)
                    if baseline is None and started():
                        baseline = done
                    elif baseline is not None and opened is None and done != baseline:
                        opened = (now, done, snapshot())
                    if opened is not None and done >= self.total:
                        return Window(self.total - opened[1], now - opened[0], opened[2], snapshot())
                if done is not None and done >= self.total:
                    raise InfraError(f"{desc}: every event was done before timing began; bench more")
                if now > deadline:
                    raise InfraError(f"{desc}: {done} of {self.total} committed after {timeout_s:.0f} s")
                time.sleep(0.1)

    def longest_stall(
        self, until: Callable[[], bool], alive: Callable[[], None], moving_s: float = 2.0
    ) -> float:
        """The longest a partition with input left went without a commit, watched until ``until()`` holds
        and then no partition with input left has gone ``moving_s`` without one."""
        since: dict[tuple[str, TopicPartition], tuple[float, int]] = {}  # → (last change, offset then)
        longest, finished = 0.0, False
        while True:
            alive()
            now, committed = time.monotonic(), self.by_partition()
            if committed is None:
                time.sleep(0.1)
                continue
            finished = finished or until()
            stalled = False
            for key, offset in committed.items():
                changed_at, before = since.get(key, (now, offset))
                if offset != before:
                    longest = max(longest, now - changed_at)
                if offset != before or offset >= self.groups[key[0]][key[1]]:
                    changed_at = now  # it moved, or it has nothing left to do
                stalled = stalled or now - changed_at > moving_s
                since[key] = (changed_at, offset)
            if finished and not stalled:
                return longest
            time.sleep(0.1)

    def close(self) -> None:
        self.admin.close()
