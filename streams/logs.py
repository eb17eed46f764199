"""Structured logs: one JSON object per line (``FLASHSALE_LOG_FORMAT=json``), with event coordinates.

Log calls about an event pass ``extra=coordinates(message)``; those fields (topic, partition, offset)
appear as JSON keys, and in text logs inside the message itself.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from faust.types import Message

FIELDS = ("topic", "partition", "offset", "agent", "error_class")


def coordinates(where: Message | Any) -> dict[str, Any]:
    """``extra`` for a log call about a message (or anything with its topic, partition and offset)."""
    return {"topic": where.topic, "partition": where.partition, "offset": where.offset}


class JsonFormatter(logging.Formatter):
    """Formats records as JSON lines with the event coordinates they carry."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def use_json(logger: logging.Logger) -> None:
    """Switch every handler of ``logger`` to JSON lines."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
