"""What a record on ``sku-events`` is: the forwarder's headers (``streams/runtime/forwarding.py``) say
which SKU, kind and source it carries, its source offset and event time, and its event ids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.runtime.clock import KIND_RANK
from streams.runtime.dedup import header_ids


def headers_of(message: Any) -> dict[str, bytes]:
    """A Faust message's or an aiokafka record's headers as a dict of bytes."""
    headers = message.headers or ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {key: value if isinstance(value, bytes) else str(value).encode() for key, value in pairs}


@dataclass
class Forwarded:
    """What the forwarder's headers say about an event on ``sku-events``."""

    sku: str
    kind: str
    source: str
    offset: int
    event_time: float
    ids: tuple[str, ...]
    key: bytes | None

    @classmethod
    def of(cls, message: Any, headers: dict[str, bytes]) -> Forwarded:
        kind, source = headers.get("kind", b"").decode(), headers.get("source", b"").decode()
        offset, event_time = int(headers["source_offset"]), float(headers["event_time"])
        sku = (message.key or b"").decode()
        if not sku or kind not in KIND_RANK:
            raise ValueError(f"not a forwarded event: kind={kind!r} sku={sku!r}")
        return cls(sku, kind, source, offset, event_time, header_ids(headers), headers.get("source_key"))
