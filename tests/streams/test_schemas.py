"""The published JSON Schemas match the records and accept/reject what the decoder does."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from streams.decoding import InvalidEvent, decode
from streams.records import Order
from streams.schemas import topic_schemas, write_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
ORDER = {
    "event_id": "e1", "order_id": "o1", "user_id": "u1", "sku": "s1",
    "quantity": 2, "unit_price": 9.5, "ts": "2026-11-11T12:00:00+00:00",
}  # fmt: skip


def test_docs_schemas_are_in_sync_with_records() -> None:
    assert write_schemas(DOCS, check=True) == [], "run `flashsale schemas` and commit docs/schemas"


def test_every_contract_topic_has_a_valid_schema() -> None:
    schemas = topic_schemas()
    assert set(schemas) == {"catalog", "clicks", "orders", "stock", "recommendations", "restock",
                            "discount-adjustments"}  # fmt: skip
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("change", [{"quantity": 0}, {"sku": ""}, {"unit_price": "9"}, {"ts": None}])
def test_schema_and_decoder_agree_on_invalid_orders(change: dict) -> None:
    event = {k: v for k, v in (ORDER | change).items() if v is not None}
    validator = jsonschema.Draft202012Validator(topic_schemas()["orders"])
    assert not validator.is_valid(event)
    with pytest.raises(InvalidEvent):
        decode(Order, json.dumps(event).encode())


def test_schema_accepts_a_valid_order() -> None:
    jsonschema.validate(ORDER, topic_schemas()["orders"])
    assert decode(Order, json.dumps(ORDER).encode()).sku == "s1"
