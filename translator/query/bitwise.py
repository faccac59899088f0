"""Bitwise query operators, on integral numbers (two's complement) and BinData.

https://www.mongodb.com/docs/manual/reference/operator/query-bitwise/
"""

from __future__ import annotations

from typing import Any, Callable

from bson import Binary, Decimal128, Int64

from translator.errors import SpecError
from translator.query.compile import value_operator

def _mask(operand: Any, at: tuple) -> int:
    """The operand as a bit mask: a non-negative number, an array of bit positions, or BinData."""
    if type(operand) is bool:
        pass
    elif isinstance(operand, (bytes, Binary)):
        return int.from_bytes(bytes(operand), "little")
    elif isinstance(operand, (int, float)) and operand == int(operand) and operand >= 0:
        return int(operand)
    elif type(operand) is list and all(type(p) is int and p >= 0 for p in operand):
        mask = 0
        for position in operand:
            mask |= 1 << position
        return mask
    msg = "expected a non-negative whole number, an array of bit positions, or BinData"
    raise SpecError(msg, at)


def _bits(value: Any) -> int | None:
    """A field value's bits, or None when it cannot be tested (non-integral, out of 64 bits).

    Python's ``&`` on a negative int reads it as two's complement sign-extended without end,
    which is mongod's rule for bit positions past 63.
    """
    kind = type(value)
    if kind is int or kind is Int64:
        return value
    if kind is float or kind is Decimal128:
        number = float(value.to_decimal()) if kind is Decimal128 else value
        if number != number or number != int(number) or not -(2**63) <= number < 2**63:
            return None
        return int(number)
    if isinstance(value, (bytes, Binary)):
        return int.from_bytes(bytes(value), "little")
    return None


def _bitwise(name: str, accept: Callable[[int, int], bool]) -> None:
    @value_operator(name)
    def compile_bitwise(operand: Any, at: tuple):
        mask = _mask(operand, at)

        def test(value: Any) -> bool:
            bits = _bits(value)
            return bits is not None and accept(bits, mask)

        return test


_bitwise("$bitsAllSet", lambda bits, mask: bits & mask == mask)
_bitwise("$bitsAnySet", lambda bits, mask: bits & mask != 0)
_bitwise("$bitsAllClear", lambda bits, mask: bits & mask == 0)
_bitwise("$bitsAnyClear", lambda bits, mask: bits & mask != mask)
