"""Table values as data: an explicit, versioned encoding of plain values (no pickle, no objects).

A value is ``MAGIC``, one byte of format version, then msgpack of ``[kind, body]``: ``kind`` names what
the table holds (``"sku-slot"``), ``body`` is nothing but maps, lists, strings, numbers, booleans, None
and raw bytes. Each :class:`StateCodec` turns its objects into such a body and back, field by field, so
moving a module never breaks a restore, and reading a changelog never runs code: a value that is not
exactly this shape is refused with :class:`StateError`. Golden values of every version live in
``tests/fixtures/state/`` and must keep decoding.

>>> codec = StateCodec("pair", 1, lambda p: {"a": p[0], "b": p[1]}, lambda d: (d["a"], d["b"]))
>>> codec.decode(codec.encode((1, b"x")))
(1, b'x')
>>> codec.decode(b"\\x80\\x04\\x95...")  # a pickle
Traceback (most recent call last):
...
streams.runtime.codec.StateError: not a flashsale state value (starts b'\\x80\\x04\\x95.')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgpack
import numpy as np

T = TypeVar("T")
MAGIC = b"FS"


class StateError(ValueError):
    """A table value that is not a state this worker can read: corrupt, hostile or of another version."""


@dataclass(frozen=True)
class StateCodec(Generic[T]):
    """The encoding of one table's values: ``kind`` and ``version`` in every value, and the two
    functions between an object and its plain body. ``older`` reads bodies of earlier versions."""

    kind: str
    version: int
    to_plain: Callable[[T], Any]
    from_plain: Callable[[Any], T]
    older: Mapping[int, Callable[[Any], T]] = field(default_factory=dict)

    def encode(self, value: T) -> bytes:
        body = msgpack.packb([self.kind, self.to_plain(value)], use_bin_type=True, strict_types=True)
        return MAGIC + bytes([self.version]) + body

    def decode(self, raw: bytes) -> T:
        """The object of ``raw``; :class:`StateError` (never anything executed) when it is not one."""
        if not isinstance(raw, bytes | bytearray) or raw[:2] != MAGIC or len(raw) < 4:
            raise StateError(f"not a flashsale state value (starts {bytes(raw[:4])!r})")
        version = raw[2]
        reader = self.from_plain if version == self.version else self.older.get(version)
        if reader is None:
            raise StateError(f"{self.kind} state of version {version}; this worker reads {self.readable()}")
        try:
            kind, body = msgpack.unpackb(raw[3:], raw=False, strict_map_key=True, use_list=True)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise StateError(f"{self.kind} state does not unpack: {exc}") from None
        if kind != self.kind:
            raise StateError(f"a {kind!r} state where {self.kind!r} was expected")
        try:
            return reader(body)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise StateError(f"{self.kind} v{version} state has the wrong shape: {exc!r}") from None

    def readable(self) -> str:
        return ", ".join(f"v{v}" for v in sorted({self.version, *self.older}))


def float32_bytes(vector: np.ndarray) -> bytes:
    """A vector as little-endian float32 bytes (its plain form)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def float32_vector(raw: bytes, dim: int | None = None) -> np.ndarray:
    """The float32 vector of ``raw`` (a copy: writable); ``dim`` checks its length."""
    if not isinstance(raw, bytes) or len(raw) % 4:
        raise ValueError("a float32 vector is bytes of a multiple of 4")
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if dim is not None and vector.shape != (dim,):
        raise ValueError(f"a vector of {vector.shape[0]} values where {dim} were expected")
    return vector


def floats(values: Any) -> list[float]:
    """A list of floats, or ValueError (a state's numbers are numbers)."""
    if not isinstance(values, list):
        raise ValueError(f"expected a list of numbers, got {type(values).__name__}")
    return [number(v) for v in values]


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    return float(value)


def optional_number(value: Any) -> float | None:
    return None if value is None else number(value)


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    return value


def binary(value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError(f"expected bytes, got {type(value).__name__}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def texts(values: Any) -> list[str]:
    """A list of strings, or ValueError; checked by the types of all its entries at once (a clock lists
    every SKU of its partition, and is read on every batch)."""
    if not isinstance(values, list):
        raise ValueError(f"expected a list of strings, got {type(values).__name__}")
    return values if set(map(type, values)) <= {str} else [text(v) for v in values]


_PLAIN_TYPES: dict[Callable[[Any], Any], set[type]] = {number: {float}, integer: {int}}  # exact types


def str_map(values: Any, cast: Callable[[Any], Any]) -> dict[str, Any]:
    """A map of str to ``cast`` values, or ValueError."""
    if not isinstance(values, dict):
        raise ValueError(f"expected a map, got {type(values).__name__}")
    checked = _plain_map(values, cast)
    return checked if checked is not None else {text(k): cast(v) for k, v in values.items()}


def _plain_map(values: dict[Any, Any], cast: Callable[[Any], Any]) -> dict[str, Any] | None:
    """``values`` checked by the types of its keys and values at once (a user's recent ids were a map of
    hundreds: a call per entry took a tenth of a worker's time), or None: the entry-by-entry path decides.
    """
    if cast not in _PLAIN_TYPES or not set(map(type, values)) <= {str}:
        return None
    kinds = set(map(type, values.values()))
    if kinds <= _PLAIN_TYPES[cast]:
        return dict(values)
    if cast is number and kinds <= {float, int}:
        return {k: float(v) for k, v in values.items()}
    return None
