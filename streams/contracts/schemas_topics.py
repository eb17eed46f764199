"""JSON Schemas of the two topics that have no record class: ``sku-status`` and ``dead-letters``.

``sku-status`` values are the JSON of :meth:`models.policy.sku_state.SkuState.status`. A dead letter's value
is the original message's bytes, whatever they are, so its schema describes the whole Kafka record as
a JSON document (:func:`dead_letter_document`): key and value base64, headers as UTF-8 strings.

>>> doc = dead_letter_document(b"alice", b"\\xff", [("source_topic", b"clicks")])
>>> doc["value"], doc["headers"]
('/w==', {'source_topic': 'clicks'})
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from streams.contracts.records import ID_MAX

_COUNT = {"type": "integer", "minimum": 0}
_DIGITS = {"type": "string", "pattern": "^[0-9]+$"}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_BYTES = {"anyOf": [{"type": "string", "contentEncoding": "base64"}, {"type": "null"}]}
_TIME = {"type": "string", "format": "date-time"}

SKU_STATUS: dict[str, Any] = {
    "description": "sku-status (compacted, key = sku): a SKU's live state after each closed bucket",
    "type": "object",
    "properties": {
        "sku": {"type": "string", "minLength": 1, "maxLength": ID_MAX},
        "on_hand": {"anyOf": [_COUNT, {"type": "null"}], "description": "null until a stock level arrived"},
        "inbound": _COUNT,
        "discount": {"type": "number", "minimum": 0, "maximum": 1},
        "popularity": {"type": "number", "minimum": 0, "description": "EWMA of units per bucket"},
        "units_sold": _COUNT,
        "oversold_units": {
            **_COUNT,
            "description": "units ordered beyond the stock last reported, less orders since",
        },
        "oversold_orders": {**_COUNT, "description": "orders that took more than that stock"},
        "holdout_arm": {
            "enum": ["treatment", "control"],
            "description": "while a holdout runs (FLASHSALE_HOLDOUT_SHARE > 0), a campaign SKU's arm: "
            "treatment = adaptive policy, control = the static policy",
        },
        "forecast": {
            "description": "units expected in the open bucket, with its central band at the service level",
            "type": "object",
            "properties": {
                "bucket": _TIME,
                "units": {"type": "number", "minimum": 0},
                "lo": {"type": "number", "minimum": 0},
                "hi": {"type": "number", "minimum": 0},
                "level": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            },
            "required": ["bucket", "units", "lo", "hi", "level"],
        },
    },
    "required": [
        "sku",
        "on_hand",
        "inbound",
        "discount",
        "popularity",
        "units_sold",
        "oversold_units",
        "oversold_orders",
    ],
}

DEAD_LETTERS: dict[str, Any] = {
    "description": (
        "dead-letters (key = the original key): a rejected message as a document; key and value are "
        "the original bytes (base64 here), cut to fit when too large to copy (truncated=true)"
    ),
    "type": "object",
    "properties": {
        "key": _BYTES,
        "value": _BYTES,
        "headers": {
            "type": "object",
            "properties": {
                "source_topic": {"type": "string", "minLength": 1},
                "source_partition": _DIGITS,
                "source_offset": _DIGITS,
                "error_class": {"type": "string", "minLength": 1},
                "error_message": {"type": "string", "description": "the reason, at most 1000 UTF-8 bytes"},
                "truncated": {"const": "true", "description": "key or value cut to fit"},
                "original_size": {**_DIGITS, "description": "bytes of the original value"},
                "original_sha256": {**_SHA256, "description": "SHA-256 of the original value, hex"},
                "original_key_size": {**_DIGITS, "description": "bytes of the original key (when cut)"},
                "original_key_sha256": {**_SHA256, "description": "SHA-256 of the original key, hex"},
            },
            "required": ["source_topic", "source_partition", "source_offset", "error_class", "error_message"],
            "dependentRequired": {
                "original_size": ["truncated", "original_sha256"],
                "original_key_size": ["truncated", "original_key_sha256"],
            },
            "dependentSchemas": {
                "truncated": {"anyOf": [{"required": ["original_size"]}, {"required": ["original_key_size"]}]}
            },
        },
    },
    "required": ["key", "value", "headers"],
}


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def dead_letter_document(
    key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]]
) -> dict[str, Any]:
    """A dead-letter record as the JSON document its schema describes."""
    text = {name: raw.decode("utf-8", "replace") for name, raw in headers}
    return {"key": _b64(key), "value": _b64(value), "headers": text}
