"""The Faust app: one factory, so workers, tests and replays each get an app for their own namespace."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from streams import metrics
from streams.contracts.topics import Topics, define_topics
from streams.settings import Settings


@dataclass(frozen=True)
class Flashsale:
    """An app with its settings and topics; :func:`streams.worker.pipeline_app` registers the agents."""

    app: faust.App
    settings: Settings
    topics: Topics
    forwarders: dict[str, Any] = field(default_factory=dict)  # source topic → Forwarder


def group_id(settings: Settings) -> str:
    """Consumer group (= Faust app id): namespaced, so replays never share the live group's offsets; a
    split role has a group (and changelogs) of its own, so its workers agree on what they consume."""
    app_id = settings.app_id if settings.worker_role == "all" else f"{settings.app_id}-{settings.worker_role}"
    return f"{app_id}.{settings.topic_prefix}" if settings.topic_prefix else app_id


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """SASL/SSL credentials from settings; None for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile or "") or None)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username or "",
        password=password,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context if protocol == "SASL_SSL" else None,
    )


def worker_dir(settings: Settings) -> Path:
    """Where a worker of this group keeps local state (Faust's tables, title vectors)."""
    return settings.data_dir / "faust" / group_id(settings)


def create_app(settings: Settings, *, web: bool = True) -> Flashsale:
    """The bare app for ``settings``, without agents (tools and benchmarks use it as it is)."""
    datadir = worker_dir(settings)
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        group_id(settings),
        broker=settings.broker_url,
        broker_credentials=broker_credentials(settings),
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.broker_session_timeout_s / 3,
        store=f"{settings.table_store}://",
        table_standby_replicas=settings.standby_replicas,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        processing_guarantee=settings.processing_guarantee.replace("-", "_"),
        web_enabled=web,
        web_port=settings.web_port,
        web_host=settings.web_host,
        producer_acks=-1,
        # Agents send outputs and state as record batches (streams.runtime.outbox): room for a batch's worth.
        producer_max_batch_size=256 * 1024,
        consumer_auto_offset_reset="earliest",
        # Don't wait on shutdown for events an agent has not taken yet (e.g. while BERT loads): they are
        # read again after a restart, and source offsets + decision ids keep results effectively-once.
        stream_wait_empty=False,
        autodiscover=False,
        datadir=str(datadir),
    )
    flashsale = Flashsale(app=app, settings=settings, topics=define_topics(app, settings))
    metrics.serve(app)
    return flashsale
