"""Dead letters of any size: whole when they fit, else cut to what the producer sends, and said so."""

from __future__ import annotations

import hashlib

from streams.app import create_app
from streams.runtime.admin import TOPIC_CONFIGS
from streams.runtime.deadletters import (
    REASON_MAX,
    Origin,
    dead_letter_headers,
    fit,
    record_limit,
    record_size,
)
from streams.settings import Settings

LIMIT = 1_000_000 - 1024
ORIGIN = Origin("clicks", 3, 42, b"alice")


def headers_of(error: Exception) -> list[tuple[str, bytes]]:
    return dead_letter_headers(ORIGIN, error)


def test_the_limit_comes_from_the_producer_config() -> None:
    app = create_app(Settings(), web=False).app
    assert record_limit(app) == app.conf.producer_max_request_size - 1024 == LIMIT


def test_the_topics_that_take_copies_accept_what_the_producer_sends() -> None:
    app = create_app(Settings(), web=False).app
    for topic in ("dead-letters", "sku-events"):
        assert int(TOPIC_CONFIGS[topic]["max.message.bytes"]) >= app.conf.producer_max_request_size


def test_a_dead_letter_that_fits_is_the_original_bytes_and_headers() -> None:
    headers = headers_of(ValueError("bad"))
    assert fit(b"alice", b"{}", headers, LIMIT) == (b"alice", b"{}", headers)


def test_a_value_just_under_a_megabyte_is_cut_to_fit_with_its_size_and_digest() -> None:
    value = bytes(range(256)) * 3905 + b"x" * 28  # 999,708 bytes: the broker took it, the copy is over
    key, cut, headers = fit(b"alice", value, headers_of(ValueError("too big")), LIMIT)
    h = dict(headers)
    assert record_size(key, cut, headers) <= LIMIT < record_size(b"alice", value, headers_of(ValueError()))
    assert key == b"alice" and cut is not None and value.startswith(cut) and len(cut) > 990_000
    assert h["truncated"] == b"true" and h["original_size"] == str(len(value)).encode()
    assert h["original_sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert (h["source_topic"], h["source_partition"], h["source_offset"]) == (b"clicks", b"3", b"42")


def test_a_key_too_large_to_leave_room_is_cut_too() -> None:
    huge_key = b"k" * 999_000
    key, value, headers = fit(huge_key, b'{"sku": "s"}', headers_of(ValueError()), LIMIT)
    h = dict(headers)
    assert key is not None and huge_key.startswith(key) and len(key) < LIMIT // 2
    assert h["original_key_size"] == b"999000"
    assert h["original_key_sha256"] == hashlib.sha256(huge_key).hexdigest().encode()
    assert value == b'{"sku": "s"}' and "original_size" not in h  # the value is whole
    assert record_size(key, value, headers) <= LIMIT


def test_a_tombstone_under_a_huge_key_fits_without_value_headers() -> None:
    key, value, headers = fit(b"k" * 2_000_000, None, headers_of(ValueError()), LIMIT)
    assert value is None and "original_size" not in dict(headers)
    assert record_size(key, value, headers) <= LIMIT


def test_the_reason_is_bounded_in_bytes_and_stays_utf8() -> None:
    reason = dict(headers_of(ValueError("é" * 10_000)))["error_message"]
    assert len(reason) <= REASON_MAX and reason.decode() == "é" * (REASON_MAX // 2)
