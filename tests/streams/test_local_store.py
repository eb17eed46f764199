"""Table state in the worker's local RocksDB store: per partition, durable across a restart, with the
changelog offset it holds (what recovery resumes after)."""

from __future__ import annotations

from pathlib import Path

from faust.types import TP

from streams.app import create_app
from streams.runtime.faust_internals import local_get
from streams.runtime.tablestate import StateTable, state_table
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
