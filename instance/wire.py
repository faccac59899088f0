"""MongoDB wire protocol framing: the OP_QUERY handshake and OP_MSG, as drivers and mongosh speak them.

https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/

A message that breaks the framing (bad length, truncation, unknown opcode, unknown required flag,
bad BSON) raises :class:`ProtocolError`; the server then closes that one connection.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from datetime import timezone
from typing import Any

import bson
from bson.codec_options import CodecOptions

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013

MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024
MAX_MESSAGE_SIZE = 48_000_000

# Datetimes are tz-aware UTC everywhere in the project; bad UTF-8 is bad BSON.
CODEC_OPTIONS = CodecOptions(tz_aware=True, tzinfo=timezone.utc)

_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")

_CHECKSUM_PRESENT = 1 << 0
_MORE_TO_COME = 1 << 1
# Bits 0-15 are "required": a receiver must refuse a message carrying one it does not know.
_UNKNOWN_REQUIRED_FLAGS = 0xFFFF & ~(_CHECKSUM_PRESENT | _MORE_TO_COME)


class ProtocolError(Exception):
    """A message that cannot be framed or decoded; the connection it came on must be closed."""


@dataclass(frozen=True, slots=True)
class Request:
    """One command received: its body (kind-1 sections merged in) and how to answer it."""

    request_id: int
    op_code: int  # OP_QUERY (the handshake) or OP_MSG
    body: dict[str, Any]
    more_to_come: bool  # OP_MSG moreToCome: the client wants no reply


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on ``reader``, or None when the client closed between messages."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        msg = f"truncated header ({len(exc.partial)} of {_HEADER.size} bytes)"
        raise ProtocolError(msg) from None
    length, request_id, _, op_code = _HEADER.unpack(header)
    if length <= _HEADER.size or length > MAX_MESSAGE_SIZE:
        msg = f"message length {length} outside {_HEADER.size + 1}..{MAX_MESSAGE_SIZE}"
        raise ProtocolError(msg)
    if op_code not in (OP_QUERY, OP_MSG):
        msg = f"unsupported opcode {op_code}"
        raise ProtocolError(msg)
    try:
        payload = await reader.readexactly(length - _HEADER.size)
    except asyncio.IncompleteReadError as exc:
        msg = f"truncated message ({len(exc.partial) + _HEADER.size} of {length} bytes)"
        raise ProtocolError(msg) from None
    if op_code == OP_MSG:
        body, more_to_come = parse_op_msg(payload)
        return Request(request_id, op_code, body, more_to_come)
    return Request(request_id, op_code, parse_op_query(payload), False)


def _decode(data: bytes | memoryview, where: str) -> dict[str, Any]:
    try:
        return bson.decode(data, CODEC_OPTIONS)
    except Exception as exc:  # bson raises InvalidBSON, but also struct/Unicode errors
        msg = f"bad BSON in {where}: {exc}"
        raise ProtocolError(msg) from None


def _document_at(payload: memoryview, offset: int, end: int, where: str) -> tuple[dict[str, Any], int]:
    """The BSON document starting at ``offset`` (ending by ``end``) and the offset after it."""
    if end - offset < 5:
        msg = f"truncated document in {where}"
        raise ProtocolError(msg)
    (size,) = _INT32.unpack_from(payload, offset)
    if size < 5 or offset + size > end:
        msg = f"document size {size} in {where} overruns its message"
        raise ProtocolError(msg)
    return _decode(payload[offset : offset + size], where), offset + size


def _cstring_at(payload: memoryview, offset: int, end: int, where: str) -> tuple[str, int]:
    nul = bytes(payload[offset:end]).find(b"\x00")
    if nul < 0:
        msg = f"unterminated string in {where}"
        raise ProtocolError(msg)
    try:
        return bytes(payload[offset : offset + nul]).decode("utf-8"), offset + nul + 1
    except UnicodeDecodeError:
        msg = f"string in {where} is not UTF-8"
        raise ProtocolError(msg) from None


def parse_op_msg(data: bytes) -> tuple[dict[str, Any], bool]:
    """OP_MSG payload (after the header) → (body with kind-1 sequences merged in, moreToCome)."""
    payload = memoryview(data)
    if len(payload) < 4:
        msg = "OP_MSG without flag bits"
        raise ProtocolError(msg)
    (flags,) = _UINT32.unpack_from(payload, 0)
    if flags & _UNKNOWN_REQUIRED_FLAGS:
        msg = f"OP_MSG with unknown required flag bits {flags & _UNKNOWN_REQUIRED_FLAGS:#x}"
        raise ProtocolError(msg)
    end = len(payload) - 4 if flags & _CHECKSUM_PRESENT else len(payload)
    body = None
    sequences: dict[str, list] = {}
    offset = 4
    while offset < end:
        kind = payload[offset]
        offset += 1
        if kind == 0:
            if body is not None:
                msg = "OP_MSG with two body sections"
                raise ProtocolError(msg)
            body, offset = _document_at(payload, offset, end, "OP_MSG body")
        elif kind == 1:
            offset = _read_sequence(payload, offset, end, sequences)
        else:
            msg = f"OP_MSG section of unknown kind {kind}"
            raise ProtocolError(msg)
    if body is None:
        msg = "OP_MSG without a body section"
        raise ProtocolError(msg)
    for identifier, documents in sequences.items():
        if identifier in body:
            msg = f"OP_MSG document sequence {identifier!r} repeats a body field"
            raise ProtocolError(msg)
        body[identifier] = documents
    return body, bool(flags & _MORE_TO_COME)


def _read_sequence(payload: memoryview, offset: int, end: int, sequences: dict[str, list]) -> int:
    """Read one kind-1 section (size, identifier, documents) into ``sequences``; the offset after it."""
    if end - offset < 4:
        msg = "truncated OP_MSG document sequence"
        raise ProtocolError(msg)
    (size,) = _INT32.unpack_from(payload, offset)
    stop = offset + size
    if size < 5 or stop > end:
        msg = f"OP_MSG document sequence size {size} overruns its message"
        raise ProtocolError(msg)
    identifier, offset = _cstring_at(payload, offset + 4, stop, "OP_MSG document sequence")
    if identifier in sequences:
        msg = f"OP_MSG document sequence {identifier!r} appears twice"
        raise ProtocolError(msg)
    documents = sequences[identifier] = []
    while offset < stop:
        document, offset = _document_at(payload, offset, stop, f"OP_MSG document sequence {identifier!r}")
        documents.append(document)
    return stop


def parse_op_query(data: bytes) -> dict[str, Any]:
    """OP_QUERY payload → its query document, the command (only the handshake comes this way)."""
    payload = memoryview(data)
    if len(payload) < 4:
        msg = "truncated OP_QUERY"
        raise ProtocolError(msg)
    collection, offset = _cstring_at(payload, 4, len(payload), "OP_QUERY collection name")
    offset += 8  # numberToSkip, numberToReturn
    query, offset = _document_at(payload, offset, len(payload), "OP_QUERY query")
    if offset < len(payload):  # the optional returnFieldsSelector
        _, offset = _document_at(payload, offset, len(payload), "OP_QUERY returnFieldsSelector")
    if offset != len(payload):
        msg = "OP_QUERY with trailing bytes"
        raise ProtocolError(msg)
    if not collection.endswith(".$cmd"):
        msg = f"OP_QUERY on {collection!r}: only commands (db.$cmd) are served"
        raise ProtocolError(msg)
    query.setdefault("$db", collection[: -len(".$cmd")])
    return query


def encode_reply(request: Request, request_id: int, reply: dict[str, Any]) -> bytes:
    """The reply to ``request``: OP_REPLY to an OP_QUERY, else OP_MSG with flags 0 and one body section."""
    document = bson.encode(reply, codec_options=CODEC_OPTIONS)
    if len(document) > MAX_BSON_OBJECT_SIZE:
        too_large = {
            "ok": 0,
            "errmsg": f"reply of {len(document)} bytes exceeds the {MAX_BSON_OBJECT_SIZE}-byte BSON limit",
            "code": 10334,
            "codeName": "BSONObjectTooLarge",
        }
        document = bson.encode(too_large)
    if request.op_code == OP_QUERY:
        # responseFlags 0, cursorID 0, startingFrom 0, numberReturned 1
        prefix = struct.pack("<iqii", 0, 0, 0, 1)
        op_code = OP_REPLY
    else:
        prefix = b"\x00\x00\x00\x00\x00"  # flagBits 0, section kind 0
        op_code = OP_MSG
    length = _HEADER.size + len(prefix) + len(document)
    return _HEADER.pack(length, request_id, request.request_id, op_code) + prefix + document
