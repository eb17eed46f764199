"""Every setting of flashsale-stream, named once, read from the environment (prefix ``FLASHSALE_``).

>>> Settings(topic_prefix="replay1").topic("orders")
'replay1.orders'
>>> Settings().topic("orders")
'orders'
>>> Settings(topic_prefix="replay1").db_schema, Settings(topic_prefix="replay1", db_schema="x").db_schema
('replay1', 'x')
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.contracts.eventtime import DEFAULT_MAX_AGE_H, EventTimePolicy, EventTimeSource

if TYPE_CHECKING:
    from infra.stack import Place


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "flashsale"


class Settings(BaseSettings):
    """Configuration of workers, commands and the local stack. Secrets are ``SecretStr``."""

    model_config = SettingsConfigDict(env_prefix="FLASHSALE_", frozen=True, extra="ignore")

    # --- Kafka -------------------------------------------------------------------------------
    broker_url: str = Field("kafka://127.0.0.1:9092", description="Faust broker URL(s), comma separated")
    topic_prefix: str = Field("", description="namespace: topics are '<prefix>.<name>' when set")
    topic_partitions: int = Field(
        12, ge=1, description="partitions of topics the app creates: the most workers a role can spread over"
    )
    topic_replication_factor: int = Field(
        1, ge=1, description="replicas of topics the app creates (3 on `flashsale up --brokers 3`)"
    )
    app_id: str = Field("flashsale", description="Faust app id = consumer group id")
    worker_role: Literal["all", "skus", "users"] = Field(
        "all", description="what a worker runs: all, skus (per-SKU path and sink, no torch) or users "
        "(the user path); split roles scale on their own, each in its own consumer group",
    )  # fmt: skip
    table_store: Literal["rocksdb", "memory"] = Field(
        "rocksdb", description="worker state: RocksDB under the data dir (a restart reads only the changelog "
        "tail), or memory (rebuilt from the whole changelog)",
    )  # fmt: skip
    standby_replicas: int = Field(
        1, ge=0, description="standby copies of each table partition kept by other workers of the group: a "
        "takeover reads only what its standby had not applied yet (0: a takeover replays the changelog)",
    )  # fmt: skip
    processing_guarantee: Literal["at-least-once"] = Field(
        "at-least-once", description="Kafka delivery; results are effectively-once by design"
    )
    broker_session_timeout_s: float = Field(6.0, gt=0, description="short: faster group joins")
    commit_stall_s: float = Field(
        60.0, gt=0, description="re-read a partition whose commit stays this long behind what was acked"
    )
    ack_hole_s: float = Field(
        5.0,
        gt=0,
        description="re-read a partition whose next record to commit stays unacknowledged this "
        "long while later ones are acknowledged (a record withheld or lost around a rebalance)",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never logged)")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle for TLS to the brokers")

    # --- Postgres ----------------------------------------------------------------------------
    database_url: SecretStr = Field(
        SecretStr("postgresql+psycopg2://flashsale@127.0.0.1:5432/flashsale"),
        description="SQLAlchemy URL of the decision store",
    )
    db_schema: str = Field(
        "public", description="Postgres schema of the decision tables; default: the topic prefix when set"
    )
    db_sslmode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] = Field(
        "prefer", description="libpq sslmode of the Postgres connection"
    )

    # --- local stack (flashsale up) ----------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir, description="local stack data and logs")
    kafka_port: int = Field(9092, ge=1, le=65535, description="local Kafka broker port")
    kafka_controller_port: int = Field(9093, ge=1, le=65535, description="local KRaft controller port")
    postgres_port: int = Field(5432, ge=1, le=65535, description="local Postgres port")

    # --- BERT --------------------------------------------------------------------------------
    model_path: Path | None = Field(None, description="local BERT checkpoint; default: packaged MiniLM")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="BERT device: cuda when present")
    bert_max_batch: int | None = Field(
        None, ge=1, description="texts per BERT forward pass; default: 256 on CUDA, 64 on CPU"
    )
    bert_max_wait_ms: int = Field(20, ge=0, description="longest wait to fill a BERT batch")
    bert_int8: bool = Field(False, description="dynamic int8 quantisation on CPU")
    bert_threads: int | None = Field(None, ge=1, description="torch CPU threads; default: all cores but one")
    query_cache_size: int = Field(10_000, ge=0, description="LRU of encoded search queries")

    # --- stream batching ---------------------------------------------------------------------
    stream_batch_size: int = Field(500, ge=1, description="events per agent batch")
    stream_batch_wait_ms: int = Field(100, ge=0, description="longest wait to fill an agent batch")

    # --- decisions ---------------------------------------------------------------------------
    bucket_minutes: int = Field(1, ge=1, description="event-time bucket of demand forecasts")
    forecast_season_minutes: int = Field(1440, ge=1, description="seasonal period of demand forecasts")
    service_level: float = Field(0.95, gt=0.5, lt=1.0, description="restock: chance of no stock-out")
    discount_max_step: float = Field(0.1, gt=0, le=1, description="largest discount change at once")
    discount_cooldown_minutes: float = Field(2.0, ge=0, description="event time between discount changes")
    discount_min_evidence_minutes: int = Field(
        3, ge=0, description="minutes of campaign sales seen before a campaign's first discount change"
    )
    discount_prior_elasticity: float = Field(
        3.0, gt=0, description="d log(demand) / d discount assumed before a SKU's own sales say otherwise"
    )
    discount_revenue_guard_z: float = Field(
        0.25,
        ge=0,
        description="deepen only while (elasticity + z sd) (1 - discount) > 1, i.e. while even an "
        "optimistic reading of demand says deeper earns more; a large value (1000) switches it off",
    )
    restock_horizon: Literal["campaign", "review"] = Field(
        "campaign",
        description="campaign: a reorder during a campaign covers the demand until its end; "
        "review: one review period (5 buckets)",
    )
    restock_confirm_minutes: int = Field(
        2,
        ge=1,
        description="within this much event time the stock topic shows an order as inbound; less "
        "inbound after it: the supplier took less, no more orders in that campaign",
    )
    allowed_lateness_s: float = Field(5.0, ge=0, description="event-time slack behind the watermark")
    dedup_window_minutes: float = Field(
        120, gt=0, description="event time within which a re-sent event_id or order_id is a duplicate"
    )
    event_time: EventTimeSource = Field(
        "kafka",
        description="kafka: producers set the Kafka timestamp to the event time (the contract); "
        "payload: it is only the send time, and the payload's ts / updated_at is the event time",
    )
    payload_time_max_age_h: float = Field(
        DEFAULT_MAX_AGE_H, gt=0, description="payload mode: how far behind its send time an event may be"
    )
    holdout_share: float = Field(
        0.0, ge=0, le=1, description="share of each campaign's SKUs held out on the static policy (campaign "
        "discount, naive reorder) to measure the adaptive policy's uplift live; 0: off",
    )  # fmt: skip
    holdout_pre_minutes: int = Field(
        60, ge=0, description="minutes before a campaign whose sales are a covariate of the uplift estimate"
    )
    recommendations_k: int = Field(10, ge=1, description="items per recommendation")
    recommendation_debounce_s: float = Field(5.0, ge=0, description="event-time debounce per user")
    recommendation_recent_minutes: float = Field(
        30.0, ge=0, description="items a user touched this recently count as seen lately"
    )
    recommendation_recent_share: float = Field(
        0.0, ge=0, le=1, description="share of a list that items seen lately may take (0: none)"
    )

    # --- operations --------------------------------------------------------------------------
    web_port: int = Field(6066, ge=1, le=65535, description="worker web port (metrics)")
    web_host: str = Field("127.0.0.1", description="worker web bind address (0.0.0.0 in containers)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="worker log level")
    log_format: Literal["text", "json"] = Field("text", description="json: one JSON object per log line")

    @field_validator("database_url")
    @classmethod
    def _a_sqlalchemy_url(cls, value: SecretStr) -> SecretStr:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value.get_secret_value())
        except (ArgumentError, ValueError):
            raise ValueError("not a SQLAlchemy URL (dialect+driver://user:password@host:port/db)") from None
        return value

    @model_validator(mode="after")
    def _schema_follows_the_namespace(self) -> Settings:
        """A namespace's decisions go to its own schema: ``topic_prefix`` picks ``db_schema`` unless
        that was given too (``model_fields_set``: by argument or FLASHSALE_DB_SCHEMA)."""
        if self.topic_prefix and "db_schema" not in self.model_fields_set:
            object.__setattr__(self, "db_schema", self.topic_prefix)  # frozen: set while validating
        return self

    def to_env(self) -> dict[str, str]:
        """These settings as ``FLASHSALE_*`` variables, to start a worker or tool with them."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"FLASHSALE_{name.upper()}"] = str(value)
        return env

    def event_time_policy(self) -> EventTimePolicy:
        """How input events' payload times are checked against their Kafka timestamps."""
        return EventTimePolicy.of(self.event_time, self.payload_time_max_age_h)

    def stack_place(self) -> Place:
        """Where the local stack of these settings lives (``infra`` takes plain values, not settings)."""
        from infra.stack import Place

        return Place(
            self.data_dir, self.kafka_port, self.kafka_controller_port, self.postgres_port, self.db_schema
        )

    def topic(self, name: str) -> str:
        """The full name of contract topic ``name`` under this namespace."""
        return f"{self.topic_prefix}.{name}" if self.topic_prefix else name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
