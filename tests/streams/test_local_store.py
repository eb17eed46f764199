"""Table state in the worker's local RocksDB store: per partition, durable across a restart, with the
changelog offset it holds (what recovery resumes after)."""

from __future__ import annotations

from pathlib import Path

from faust.types import TP

from streams.app import create_app
from streams.runtime.faust_internals import local_get
from streams.runtime.tablestate import SHARED_WRITE_BUFFERS, StateTable, shared_memory, state_table
from streams.settings import Settings
from streams.users.state import USER_SLOTS, UserSlot


def users_table(data_dir: Path, store: str = "rocksdb") -> StateTable[UserSlot]:
    app = create_app(Settings(data_dir=data_dir, table_store=store), web=False).app
    return state_table(app, "users", USER_SLOTS)


async def test_stored_state_survives_a_restart_with_its_changelog_offset(tmp_path: Path) -> None:
    table = users_table(tmp_path)
    changelog = table.changelog_topic.get_topic_name()
    table.store({(0, "u1"): b"one", (2, "u2"): b"two"}, {(changelog, 0): 41, ("other-topic", 2): 9})
    assert local_get(table, 0, "u1") == b"one"
    assert local_get(table, 2, "u1") is None  # a key lives in its partition's database
    await table.data.stop()  # closes the databases, as a stopping worker does

    again = users_table(tmp_path)
    assert (local_get(again, 0, "u1"), local_get(again, 2, "u2")) == (b"one", b"two")
    assert again.persisted_offset(TP(changelog, 0)) == 41  # recovery reads the changelog after it
    assert again.persisted_offset(TP(changelog, 2)) is None  # no offset of this changelog: read it all


def test_the_memory_store_forgets_on_restart_and_persists_no_offset(tmp_path: Path) -> None:
    table = users_table(tmp_path, "memory")
    changelog = table.changelog_topic.get_topic_name()
    table.store({(0, "u1"): b"one"}, {(changelog, 0): 41})
    assert local_get(table, 0, "u1") == b"one"
    assert table.persisted_offset(TP(changelog, 0)) is None
    assert local_get(users_table(tmp_path, "memory"), 0, "u1") is None


async def test_every_partition_database_of_a_worker_shares_one_memtable_budget(tmp_path: Path) -> None:
    users, skus = users_table(tmp_path / "a"), users_table(tmp_path / "b")
    _, buffers = shared_memory()
    before = buffers.get_usage()
    users.store({(0, "u1"): b"x" * 100_000}, {})
    after_one = buffers.get_usage()
    skus.store({(p, f"u{p}"): b"y" * 100_000 for p in range(1, 4)}, {})  # three more databases
    assert before < after_one < buffers.get_usage()  # each database's memtable counts against it
    assert buffers.get_buffer_size() == SHARED_WRITE_BUFFERS
    await users.data.stop()
    await skus.data.stop()
