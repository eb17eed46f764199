"""JSON Schemas (draft 2020-12) of every contract event, generated from :mod:`streams.contracts.records`
(``sku-status`` and ``dead-letters``, which have no record class, from
:mod:`streams.contracts.schemas_topics`)."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import faust
from faust.models.fields import CharField, DatetimeField, FloatField, IntegerField
from faust.types.models import FieldDescriptorT

from streams.contracts.records import INPUT_RECORDS, OUTPUT_RECORDS, ChoiceField
from streams.contracts.schemas_topics import DEAD_LETTERS, SKU_STATUS
from streams.contracts.topics import DEAD_LETTERS as DEAD_LETTERS_TOPIC
from streams.contracts.topics import SKU_STATUS as SKU_STATUS_TOPIC
from streams.runtime.faust_internals import record_fields

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _record_of(annotation: Any) -> type[faust.Record] | None:
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, faust.Record)), None)


def field_schema(field: FieldDescriptorT) -> dict[str, Any]:
    """The JSON Schema of one declared field."""
    schema: dict[str, Any]
    if isinstance(field, DatetimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, IntegerField | FloatField):
        schema = {"type": "integer" if isinstance(field, IntegerField) else "number"}
        if field.min_value is not None:
            schema["minimum"] = field.min_value
        if field.max_value is not None:
            schema["maximum"] = field.max_value
    elif isinstance(field, ChoiceField):
        schema = {"type": "string", "enum": list(field.choices)}
    elif isinstance(field, CharField):
        schema = {"type": "string", "minLength": 1}
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
    elif typing.get_origin(field.type) is list:
        item = _record_of(typing.get_args(field.type)[0])
        schema = {"type": "array", "items": record_schema(item) if item else {}}
    else:
        nested = _record_of(field.type)
        schema = record_schema(nested) if nested else {}
    if not field.required:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def record_schema(record_cls: type[faust.Record]) -> dict[str, Any]:
    """An object schema with every field of ``record_cls``; unknown fields are allowed."""
    fields = record_fields(record_cls)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: field_schema(f) for name, f in fields.items()},
        "required": [name for name, f in fields.items() if f.required],
    }
    if record_cls.__doc__:
        schema["description"] = record_cls.__doc__.strip().splitlines()[0].replace("``", "")
    return schema


def _head(topic: str) -> dict[str, Any]:
    return {"$schema": DRAFT, "$id": f"flashsale/{topic}.json", "title": topic}


def topic_schemas() -> dict[str, dict[str, Any]]:
    """``{topic: schema}`` for every contract topic (records, then the two without a record class)."""
    out = {record.topic_name: _head(record.topic_name) | record_schema(record)
           for record in (*INPUT_RECORDS, *OUTPUT_RECORDS)}  # fmt: skip
    out[SKU_STATUS_TOPIC] = _head(SKU_STATUS_TOPIC) | SKU_STATUS
    out[DEAD_LETTERS_TOPIC] = _head(DEAD_LETTERS_TOPIC) | DEAD_LETTERS
    return out


def write_schemas(out_dir: Path, check: bool = False) -> list[str]:
    """Write ``<topic>.json`` files; with ``check``, write nothing and return the stale names."""
    stale = []
    for topic, schema in topic_schemas().items():
        path = out_dir / f"{topic}.json"
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.name)
        if not check:
            out_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return stale
