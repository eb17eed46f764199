"""Deterministic decision ids and event-time buckets.

A decision's id depends only on what it is about (kind, SKU, event-time bucket), so re-processing the
same input after a crash yields the same id and the Postgres sink can drop the duplicate on its key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

#: Fixed namespace of flashsale-stream decision ids (never change it: ids of old decisions would move).
DECISION_NAMESPACE = uuid.UUID("6f1c2d3e-5a4b-5c6d-8e7f-0a1b2c3d4e5f")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime (naive datetimes are taken to be UTC already)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def to_epoch(ts: datetime) -> float:
    """Seconds since the Unix epoch; naive datetimes count as UTC (never as local time)."""
    return (as_utc(ts) - _EPOCH).total_seconds()


def from_epoch(seconds: float) -> datetime:
    """Aware UTC datetime of ``seconds`` since the Unix epoch."""
    return _EPOCH + timedelta(seconds=seconds)


def bucket_start(ts: datetime, bucket_minutes: int = 1) -> datetime:
    """Start (UTC) of the event-time bucket of ``bucket_minutes`` that holds ``ts``.

    Examples
    --------
    >>> bucket_start(datetime(2024, 11, 11, 0, 7, 59, tzinfo=UTC), 5).isoformat()
    '2024-11-11T00:05:00+00:00'
    """
    if bucket_minutes < 1:
        raise ValueError(f"bucket_minutes must be >= 1, got {bucket_minutes}")
    size = 60 * bucket_minutes
    # Integer microseconds: exact floor, no float rounding at bucket edges.
    micros = (as_utc(ts) - _EPOCH) // timedelta(microseconds=1)
    return _EPOCH + timedelta(seconds=(micros // 1_000_000) // size * size)


def decision_id(kind: str, sku: str, bucket_start: datetime) -> str:
    """UUID5 (as a string) of a decision about ``sku`` of ``kind`` in the bucket starting at ``bucket_start``.

    The same instant written in another time zone gives the same id.

    Examples
    --------
    >>> t = datetime(2024, 11, 11, 8, 0, tzinfo=UTC)
    >>> decision_id("restock", "sku-1", t) == decision_id("restock", "sku-1", t.astimezone())
    True
    >>> decision_id("restock", "sku-1", t) == decision_id("discount", "sku-1", t)
    False
    """
    if not kind or not sku:
        raise ValueError("kind and sku must be non-empty")
    # The separator cannot occur in the ISO timestamp, and kinds are fixed names, so fields cannot collide.
    name = f"{kind}\x1f{sku}\x1f{as_utc(bucket_start).isoformat()}"
    return str(uuid.uuid5(DECISION_NAMESPACE, name))
