"""Kafka keys, headers and values as Atlas Stream Processing reads and writes them.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-emit/
"""

from __future__ import annotations

import base64
import struct
from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from runtime.ejson import CANONICAL, dumps, encode_relaxed, loads_fast

KEY_FORMATS = ("binData", "string", "json", "int", "long")
KEY_FORMAT_ERRORS = ("dlq", "passThrough")
OUTPUT_FORMATS = ("relaxedJson", "canonicalJson", "basicJson")
DATE_FORMATS = ("default", "ISO8601")
# Atlas accepts librdkafka's spellings and a few of its own for the first start position.
AUTO_OFFSET_RESET = {
    "earliest": "earliest",
    "beginning": "earliest",
    "smallest": "earliest",
    "latest": "latest",
    "largest": "latest",
    "end": "latest",
}

# Kafka's IntegerSerializer and LongSerializer: big-endian two's complement.
_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")


def _choice(value: str, allowed: tuple[str, ...] | dict, what: str) -> str:
    if value not in allowed:
        msg = f"{what}: expected one of {', '.join(map(repr, allowed))}; got {value!r}"
        raise ValueError(msg)
    return value


def normalize_offset_reset(value: str) -> str:
    """Map Atlas's ``auto_offset_reset`` synonyms onto librdkafka's ``earliest``/``latest``."""
    return AUTO_OFFSET_RESET[_choice(value, AUTO_OFFSET_RESET, "auto_offset_reset")]


def _decode_string(raw: bytes) -> str:
    return raw.decode("utf-8")


def _decode_fixed(codec: struct.Struct, name: str) -> Callable[[bytes], int]:
    def decode(raw: bytes) -> int:
        if len(raw) != codec.size:
            msg = f"expected a {codec.size}-byte {name} key; found {len(raw)} bytes"
            raise ValueError(msg)
        return codec.unpack(raw)[0]

    return decode


_KEY_DECODERS: dict[str, Callable[[bytes], Any] | None] = {
    "binData": None,  # raw bytes are binData already
    "string": _decode_string,
    "json": loads_fast,
    "int": _decode_fixed(_INT, "int"),
    "long": _decode_fixed(_LONG, "long"),
}


def key_decoder(key_format: str) -> Callable[[bytes], Any] | None:
    """The function turning a raw Kafka key into a document value for ``keyFormat``.

    None for ``binData``: the key stays as it came. A decoder raises ``ValueError`` (a
    JSON or Unicode error is one too) on a key that does not fit the format; the source
    applies ``keyFormatError`` then.
    """
    return _KEY_DECODERS[_choice(key_format, KEY_FORMATS, "keyFormat")]


def _encode_bindata(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    msg = f"keyFormat binData: expected binary data; found {type(value).__name__}"
    raise TypeError(msg)


def _encode_string(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    msg = f"keyFormat string: expected a string; found {type(value).__name__}"
    raise TypeError(msg)


def _encode_fixed(codec: struct.Struct, name: str) -> Callable[[Any], bytes]:
    def encode(value: Any) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"keyFormat {name}: expected an integer; found {type(value).__name__}"
            raise TypeError(msg)
        try:
            return codec.pack(value)
        except struct.error as exc:
            msg = f"keyFormat {name}: {value} does not fit in {codec.size * 8} bits"
            raise ValueError(msg) from exc

    return encode


def key_encoder(key_format: str) -> Callable[[Any], bytes]:
    """The function turning a computed key into Kafka key bytes for ``keyFormat``."""
    encoders: dict[str, Callable[[Any], bytes]] = {
        "binData": _encode_bindata,
        "string": _encode_string,
        "json": encode_relaxed,
        "int": _encode_fixed(_INT, "int"),
        "long": _encode_fixed(_LONG, "long"),
    }
    return encoders[_choice(key_format, KEY_FORMATS, "keyFormat")]


def encode_canonical(doc: Any) -> bytes:
    """Canonical Extended JSON: every number and date keeps its BSON type."""
    return dumps(doc, CANONICAL).encode()


def _basic_default(value: Any) -> Any:
    # basicJson drops type wrappers: ids, decimals and the like become their string form,
    # binary data base64.
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return str(value)


def encode_basic(doc: Any) -> bytes:
    """Plain JSON without Extended JSON wrappers (dates as ISO-8601 UTC strings)."""
    return orjson.dumps(doc, default=_basic_default, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)


def iso_date(value: datetime) -> str:
    """A date as ISO-8601 UTC at millisecond precision, ``2024-10-04T12:00:00.000Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def with_iso_dates(value: Any) -> Any:
    """``value`` with every date, however deep, replaced by its ISO-8601 string."""
    kind = type(value)
    if kind is dict:
        return {key: with_iso_dates(item) for key, item in value.items()}
    if kind is list:
        return [with_iso_dates(item) for item in value]
    if isinstance(value, datetime):
        return iso_date(value)
    return value


def value_encoder(output_format: str, date_format: str = "default") -> Callable[[Any], bytes]:
    """The encoder for ``$emit.config.outputFormat`` and ``dateFormat`` (``ISO8601`` writes
    dates as plain strings whatever the output format)."""
    encoders = {"relaxedJson": encode_relaxed, "canonicalJson": encode_canonical, "basicJson": encode_basic}
    encode = encoders[_choice(output_format, OUTPUT_FORMATS, "outputFormat")]
    if _choice(date_format, DATE_FORMATS, "dateFormat") == "default":
        return encode
    return lambda doc: encode(with_iso_dates(doc))


def headers_to_meta(headers: list[tuple[str, bytes]]) -> list[dict]:
    """Kafka headers as Atlas shows them in ``_stream_meta.source.headers``: ``[{k, v}]``."""
    return [{"k": k, "v": v} for k, v in headers]


def _header_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return bytes(value)  # bson.Binary is a bytes subclass
    if isinstance(value, str):
        return value.encode("utf-8")
    return encode_relaxed(value)


def headers_from_value(value: Any) -> list[tuple[str, bytes | None]]:
    """Headers computed by ``$emit.config.headers``: a document ``{k: v}`` or an array of ``{k, v}``.

    Strings are sent as UTF-8, binary data as is, anything else as relaxed Extended JSON.
    """
    if isinstance(value, dict):
        return [(str(k), _header_bytes(v)) for k, v in value.items()]
    if isinstance(value, list):
        pairs = []
        for entry in value:
            if not (isinstance(entry, dict) and isinstance(entry.get("k"), str)):
                msg = f"headers: expected an array of {{k: string, v}} documents; found element {entry!r}"
                raise TypeError(msg)
            pairs.append((entry["k"], _header_bytes(entry.get("v"))))
        return pairs
    msg = f"headers: expected a document or an array of {{k, v}} documents; found {type(value).__name__}"
    raise TypeError(msg)


def raw_text(raw: bytes) -> str:
    """A payload for a DLQ record: the text itself, or base64 when it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode()
