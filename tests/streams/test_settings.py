"""Settings from the environment: a namespace (topic prefix) picks its own Postgres schema."""

from __future__ import annotations

import pytest

from streams.settings import Settings


def test_the_topic_prefix_picks_the_schema_when_none_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASHSALE_DB_SCHEMA", raising=False)
    monkeypatch.setenv("FLASHSALE_TOPIC_PREFIX", "try1")
    settings = Settings()
    assert settings.db_schema == "try1" and settings.topic("orders") == "try1.orders"
    assert Settings(**{**settings.model_dump(), "db_schema": "other"}).db_schema == "other"


def test_an_explicit_schema_wins_over_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHSALE_TOPIC_PREFIX", "try1")
    monkeypatch.setenv("FLASHSALE_DB_SCHEMA", "public")  # even when it names the default
    assert Settings().db_schema == "public"


def test_without_a_prefix_the_schema_stays_public(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASHSALE_TOPIC_PREFIX", raising=False)
    monkeypatch.delenv("FLASHSALE_DB_SCHEMA", raising=False)
    assert Settings().db_schema == "public"


def test_a_worker_started_from_to_env_keeps_the_derived_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASHSALE_DB_SCHEMA", raising=False)
    env = Settings(topic_prefix="try2").to_env()
    assert env["FLASHSALE_DB_SCHEMA"] == "try2"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings().db_schema == "try2"
