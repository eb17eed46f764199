"""Strict decoding of raw Kafka values into contract records.

Faust's own record validation coerces (``"5"`` becomes ``5``) and skips zero bounds, so inputs are
checked here, field by field, against the descriptors declared in :mod:`streams.contracts.records`.
Any failure raises :class:`InvalidEvent`, whose message becomes the dead letter's reason.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from faust.models.fields import CharField, DatetimeField, FieldDescriptor, FloatField, IntegerField
from faust.types.models import FieldDescriptorT

from streams.contracts.eventtime import KAFKA_TIME, MAX_AHEAD, EventTimePolicy, payload_time
from streams.contracts.records import ID_MAX, ChoiceField, Event
from streams.runtime.faust_internals import record_fields

E = TypeVar("E", bound=faust.Record)

MAX_EVENT_BYTES = 64 * 1024
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class InvalidEvent(ValueError):
    """A value that breaks its topic's contract; the message says why."""


class LateEvent(InvalidEvent):
    """A valid event whose time is far behind what its source partition already reached."""


class UnknownSku(InvalidEvent):
    """An order, stock level or click for an SKU the catalog has not listed."""


class TooLarge(InvalidEvent):
    """A valid event whose copy, with the headers the pipeline adds, is larger than the app sends."""


def _reject_constant(name: str) -> Any:
    raise InvalidEvent(f"{name} is not valid JSON")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)  # one decoder, not one per event
_SURROGATE = re.compile("[\ud800-\udfff]")  # what UTF-8 cannot encode
_CONTROL = re.compile("[\x00-\x1f]")


def parse_json(raw: bytes | None) -> dict[str, Any]:
    """UTF-8 JSON object, at most ``MAX_EVENT_BYTES``; NaN and Infinity rejected."""
    if raw is None:
        raise InvalidEvent("empty value (tombstone) where an event was expected")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"value of {len(raw)} bytes exceeds the {MAX_EVENT_BYTES}-byte limit")
    try:
        data = _JSON.decode(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"value is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"value is not JSON: {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise InvalidEvent("value is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidEvent(f"value must be a JSON object, got {type(data).__name__}")
    return data


def parse_timestamp(name: str, value: Any) -> datetime:
    """An ISO-8601 timestamp with a zone, between 2000 and 2100, as UTC."""
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be an ISO-8601 string, got {type(value).__name__}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"{name} is not an ISO-8601 timestamp: {value[:40]!r}") from None
    if ts.tzinfo is None:
        raise InvalidEvent(f"{name} has no time zone: {value[:40]!r}")
    if not EARLIEST <= ts < LATEST:
        raise InvalidEvent(f"{name} {value[:40]!r} is outside 2000..2100")
    return ts.astimezone(UTC)


def _nested_record(annotation: Any) -> type[faust.Record] | None:
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    args = args or typing.get_args(annotation)
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, faust.Record):
            return arg
    return None


class _ObjectField(FieldDescriptor):
    """Stands for one element of a list of records."""

    def __init__(self, record_cls: type[faust.Record]) -> None:
        self.type = record_cls


def _check_number(name: str, value: Any, field: Any, integral: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int if integral else (int, float)):
        kind = "an integer" if integral else "a number"
        raise InvalidEvent(f"{name} must be {kind}, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidEvent(f"{name} must be finite")
    if field.min_value is not None and value < field.min_value:
        raise InvalidEvent(f"{name} must be >= {field.min_value}, got {value}")
    if field.max_value is not None and value > field.max_value:
        raise InvalidEvent(f"{name} must be <= {field.max_value}, got {value}")


def _check_text(name: str, value: Any, field: CharField) -> None:
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidEvent(f"{name} must not be blank")
    if _SURROGATE.search(value):
        raise InvalidEvent(f"{name} is not valid Unicode (a lone surrogate)")
    if field.max_length == ID_MAX and _CONTROL.search(value):
        raise InvalidEvent(f"{name} contains control characters")
    if field.max_length is not None and len(value) > field.max_length:
        raise InvalidEvent(f"{name} is {len(value)} characters, the limit is {field.max_length}")
    choices = getattr(field, "choices", None)
    if isinstance(field, ChoiceField) and value not in field.choices:
        raise InvalidEvent(f"{name} must be one of {', '.join(choices or ())}, got {value[:40]!r}")


def _convert(name: str, value: Any, field: FieldDescriptorT) -> Any:
    if isinstance(field, DatetimeField):
        return parse_timestamp(name, value)
    if isinstance(field, IntegerField):
        _check_number(name, value, field, integral=True)
    elif isinstance(field, FloatField):
        _check_number(name, value, field, integral=False)
        return float(value)
    elif isinstance(field, CharField):
        _check_text(name, value, field)
    elif typing.get_origin(field.type) is list:
        item_cls = _nested_record(typing.get_args(field.type)[0])
        if not isinstance(value, list) or item_cls is None:
            raise InvalidEvent(f"{name} must be a list, got {type(value).__name__}")
        return [_convert(f"{name}[{i}]", v, _ObjectField(item_cls)) for i, v in enumerate(value)]
    else:
        nested = _nested_record(field.type)
        if nested is not None:
            if not isinstance(value, dict):
                raise InvalidEvent(f"{name} must be an object, got {type(value).__name__}")
            return validate(nested, value, prefix=f"{name}.")
    return value


def validate(record_cls: type[E], data: dict[str, Any], prefix: str = "") -> E:
    """Build ``record_cls`` from ``data``, checking every declared field strictly."""
    values: dict[str, Any] = {}
    for field_name, field in record_fields(record_cls).items():
        name = prefix + field_name
        value = data.get(field_name)
        if value is None:
            if field.required:
                raise InvalidEvent(f"{name} is missing")
            values[field_name] = None
            continue
        values[field_name] = _convert(name, value, field)
    record = record_cls(**values)
    if isinstance(record, Event):
        errors = record.invariants()
        if errors:
            raise InvalidEvent("; ".join(errors))
    return record


def decode(
    record_cls: type[E],
    raw: bytes | None,
    kafka_timestamp: float | None = None,
    now: datetime | None = None,
    event_time: EventTimePolicy = KAFKA_TIME,
) -> E:
    """Decode a raw Kafka value. ``kafka_timestamp`` (seconds) bounds the event's own time as
    ``event_time`` says (see :mod:`streams.contracts.eventtime`), and so does ``now`` (default: the wall
    clock): no event comes from more than MAX_AHEAD ahead."""
    record = validate(record_cls, parse_json(raw))
    event_ts = payload_time(record)
    if kafka_timestamp is not None and event_ts is not None:
        refused = event_time.refusal(event_ts, datetime.fromtimestamp(kafka_timestamp, UTC))
        if refused:
            raise InvalidEvent(refused)
    if event_ts is not None and event_ts - (now or datetime.now(UTC)) > MAX_AHEAD:
        raise InvalidEvent(f"event time {event_ts.isoformat()} is more than {MAX_AHEAD} in the future")
    return record
