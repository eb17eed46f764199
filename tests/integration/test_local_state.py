"""A worker SIGKILLed and started again on its data directory: with RocksDB it resumes from its local
store and reads none of the changelog it already holds; with memory it reads the whole changelog. Either
way the state is all there: a re-sent order from before the kill is known as a copy. A worker that keeps
a standby copy of a killed worker's partitions takes them over without reading their changelog."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

import pytest

from infra.net import free_port
from streams.app import group_id
from streams.runtime.admin import ensure_topics
from streams.settings import Settings
from tests.chaos import observe
from tests.integration.test_worker_roundtrip import listing, order

pytestmark = pytest.mark.integration
USERS, ORDERS = 300, 1500


def orders(first: int, n: int) -> list[tuple[bytes, bytes, float]]:
    """Orders ``first``… of ``USERS`` users (``order(i)`` has 37; re-keyed here)."""
    out = []
    for i in range(first, first + n):
        _, raw, ts = order(i)
        value = json.loads(raw) | {"user_id": f"u{i % USERS}"}
        out.append((f"u{i % USERS}".encode(), json.dumps(value).encode(), ts))
    return out


def settled(seen: list[float], value: float, polls: int = 10) -> bool:
    """Whether ``value`` is positive and has not changed over the last ``polls`` looks (0.2 s apart)."""
    seen.append(value)
    return value > 0 and len(seen) >= polls and len(set(seen[-polls:])) == 1


def drained(settings: Settings) -> Callable[[], bool]:
    return lambda: observe.group_progress(settings)[0] == 0


@pytest.mark.parametrize("store", ["rocksdb", "memory"])
def test_a_restarted_worker_resumes_from_its_local_store(
    settings: Settings, start_worker: Callable, produce: Callable, store: str
) -> None:
    settings = settings.model_copy(update={"table_store": store})
    ensure_topics(settings)
    produce(settings.topic("catalog"), [listing(i) for i in range(11)])
    sent = orders(0, ORDERS)
    produce(settings.topic("orders"), sent)
    worker = start_worker(settings)
    observe.wait_for(drained(settings), 180, "the orders applied")
    url = f"http://127.0.0.1:{settings.web_port}/metrics"
    users_changelog = f"{group_id(settings)}-users-changelog"
    written = observe.topic_size(settings.model_copy(update={"topic_prefix": ""}), [users_changelog])
    assert written >= USERS
    worker.stop(signal.SIGKILL)

    produce(settings.topic("orders"), [sent[5], *orders(ORDERS, 1)])  # a producer's retry, and a new order
    start_worker(settings)
    observe.wait_for(drained(settings), 180, "the copy and the new order applied")
    samples = observe.scrape(url)
    restored = samples.get('flashsale_state_restored_total{table="users"}', 0)
    if store == "rocksdb":
        assert restored == 0  # everything it wrote was in its local store (killed while idle)
    else:
        assert restored == written  # the whole changelog, again
    assert samples['flashsale_duplicates_total{agent="user-orders",topic="orders"}'] == 1
    assert samples['flashsale_duplicates_total{agent="skus",topic="orders"}'] == 1


def test_a_standby_takes_over_a_killed_workers_users_without_replaying_their_changelog(
    settings: Settings, start_worker: Callable, produce: Callable
) -> None:
    settings = settings.model_copy(update={"table_store": "rocksdb", "standby_replicas": 1})
    ensure_topics(settings)
    produce(settings.topic("catalog"), [listing(i) for i in range(11)])
    sent = orders(0, ORDERS)
    produce(settings.topic("orders"), sent)
    doomed = start_worker(settings.model_copy(update={"data_dir": settings.data_dir / "a"}))
    survivor = settings.model_copy(update={"data_dir": settings.data_dir / "b", "web_port": free_port()})
    start_worker(survivor)
    observe.wait_for(drained(settings), 180, "the orders applied")
    url = f"http://127.0.0.1:{survivor.web_port}/metrics"
    standby, restored = (f'flashsale_state_{kind}_total{{table="users"}}' for kind in ("standby", "restored"))
    seen: list[float] = []
    # The standby applies records in buffers of STANDBY_BUFFER; the rebalance applies what is left in one.
    try:
        observe.wait_for(lambda: settled(seen, observe.scrape(url).get(standby, 0)), 120, "the standby copy")
    except AssertionError as exc:  # how far it got says which way it failed: nothing applied, or never still
        raise AssertionError(f"{exc}; records applied at its last looks: {seen[-12:]}") from None
    restored_before = observe.scrape(url).get(restored, 0)  # its own partitions, when it joined
    doomed.stop(signal.SIGKILL)

    produce(settings.topic("orders"), sent[:USERS])  # a re-sent order of every user
    duplicates = 'flashsale_duplicates_total{agent="user-orders",topic="orders"}'
    # Every re-sent order is known (a user the standby lacked would be a new order, never counted). It
    # failed in every run before records fetched ahead of a rebalance were kept from being applied after
    # it (half the users, on the partitions taken over).
    all_known = lambda: observe.scrape(url).get(duplicates, 0) >= USERS  # noqa: E731
    observe.wait_for(all_known, 180, "every re-sent order known")
    observe.wait_for(drained(settings), 180, "the re-sent orders read by the survivor")
    samples = observe.scrape(url)
    assert (
        samples.get(restored, 0) == restored_before
    )  # the takeover read no changelog: its standby was current
    assert samples[duplicates] == USERS  # all known, and once
