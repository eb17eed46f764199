"""The published JSON Schemas match the records and accept/reject what the decoder does."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from models.policy.sku_state import SkuState
from streams.contracts.decoding import InvalidEvent, decode
from streams.contracts.records import Order
from streams.contracts.schemas import topic_schemas, write_schemas
from streams.contracts.schemas_topics import dead_letter_document
from streams.runtime.deadletters import Origin, dead_letter_headers, fit

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
                            "discount-adjustments", "experiment-results", "sku-status",
                            "dead-letters"}  # fmt: skip
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


def dead_letter_valid(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> bool:
    validator = jsonschema.Draft202012Validator(topic_schemas()["dead-letters"])
    return validator.is_valid(dead_letter_document(key, value, headers))


@pytest.mark.parametrize("size", [10, 999_908])
def test_dead_letters_as_sent_match_their_schema_whole_or_cut(size: int) -> None:
    headers = dead_letter_headers(Origin("clicks", 1, 7, b"alice"), InvalidEvent("too big"))
    key, value, headers = fit(b"alice", b"v" * size, headers, limit=998_976)
    assert ("truncated" in dict(headers)) == (size > 998_976)
    assert dead_letter_valid(key, value, headers)


def test_a_truncated_dead_letter_must_say_what_was_cut() -> None:
    headers = dead_letter_headers(Origin("clicks", 1, 7, None), InvalidEvent("x"))
    assert not dead_letter_valid(None, b"cut", [*headers, ("truncated", b"true")])
    assert not dead_letter_valid(None, b"cut", [*headers, ("original_size", b"9")])  # no digest, no flag
    assert not dead_letter_valid(None, b"x", headers[1:])  # no source topic


def test_sku_status_of_the_state_matches_its_schema() -> None:
    validator = jsonschema.Draft202012Validator(topic_schemas()["sku-status"])
    state = SkuState("sku-1")
    assert validator.is_valid(state.status())  # before any stock level: on_hand null
    state.apply({"on_hand": 9, "inbound": 4, "ts": "…"}, 0.0)
    state.apply({"quantity": 3, "unit_price": 2.0, "order_id": "o1"}, 10.0)
    state.advance(60.0)
    status = state.status()
    assert "forecast" in status and validator.is_valid(status)
    assert not validator.is_valid(status | {"on_hand": -1})


def test_an_experiment_result_as_sent_matches_its_schema() -> None:
    from models.experiment.tally import Estimate
    from models.experiment.uplift import Uplift
    from streams.contracts.records import ExperimentResult
    from streams.experiment.processor import result_fields

    u = Uplift(12.0, 9.5, 8.0, 2.5, 1.0, 30.0, 0.46, 4.54, 0.95, 2)
    sent = json.loads(ExperimentResult(**result_fields(Estimate("c1", 1.8e9, 15.0, 20, 18, u, u))).dumps())
    validator = jsonschema.Draft202012Validator(topic_schemas()["experiment-results"])
    assert validator.is_valid(sent) and sent["revenue_uplift"] == 2.5 and "2.5 more revenue" in sent["reason"]
    assert not validator.is_valid(sent | {"n_control": 1})  # no estimate without two SKUs an arm


def test_a_held_out_skus_status_names_its_arm_in_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(topic_schemas()["sku-status"])
    status = SkuState("sku-1").status()
    assert validator.is_valid(status | {"holdout_arm": "control"})
    assert not validator.is_valid(status | {"holdout_arm": "placebo"})
