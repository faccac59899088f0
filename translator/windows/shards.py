"""Which shard a document's key belongs to: the same answer in every process.

A stateful stage spreads its state over ``SHARDS`` shard keys by a key the stage
defines (a window's ``$group`` ``_id``, a session's or ``$setWindowFields``'s
``partitionBy``). Documents the stage keeps together must meet in one shard, so keys BSON
calls equal (``1``, ``1.0``, ``NumberLong(1)``) hash alike, and the hash must not be Python's
``hash`` of strings, which differs from process to process.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable
from zlib import crc32

from translator._bson_order import bson_key
from translator._types import MISSING, NO_VARS, Compiled
from translator.errors import ExpressionError

SHARDS = 16  # shard keys a spread stage's state lives under: part of the recovery layout
# Bytewax places keys on workers by a hash modulo the worker count; these 16 names split
# evenly over 2 workers (8 + 8), 3 (5 + 4 + 7) and 4 (3 + 5 + 5 + 3) in Bytewax 0.21.
SHARD_KEYS = tuple(f"shard{i:02d}" for i in range(SHARDS))
_MASK = 0xFFFFFFFF
_UNSALTED_NUMBERS = frozenset({int, float, Decimal})  # Python hashes numbers alike everywhere, equal ones equally


def _stable_hash(key: Any) -> int:
    """A hash of a ``bson_key`` result that every process computes alike."""
    kind = type(key)
    if kind is str:
        return crc32(key.encode("utf-8", "surrogatepass"))
    if kind in _UNSALTED_NUMBERS:
        return hash(key) & _MASK
    if key is None:
        return 0
    if kind is tuple:
        value = 0x345678
        for item in key:
            value = ((value * 1000003) ^ _stable_hash(item)) & _MASK
        return value
    if kind is bytes:
        return crc32(key)
    return crc32(repr(key).encode())  # dates, booleans, regex flags: their repr is stable


def shard_by(key: Compiled, field: str | None, shards: int) -> Callable[[dict], int]:
    """A document's shard by ``key`` (read straight from top-level ``field`` when it is one).

    A document whose key fails goes to shard 0, where the stage meets the failure again and
    dead-letters it.
    """
    if field is not None:

        def shard_of_field(doc: dict) -> int:
            value = doc.get(field)
            kind = type(value)
            if kind is str:
                return crc32(value.encode("utf-8", "surrogatepass")) % shards
            if kind is int:
                return (hash(value) & _MASK) % shards
            return _stable_hash(bson_key(value)) % shards

        return shard_of_field

    def shard_of(doc: dict) -> int:
        try:
            value = key(doc, NO_VARS)
        except ExpressionError:
            return 0
        return _stable_hash(bson_key(None if value is MISSING else value)) % shards

    return shard_of
