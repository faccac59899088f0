"""The instance's MongoDB-wire server: the handshake and ordinary commands mongosh and drivers send,
the authentication gate, and the stream commands handed to :class:`instance.service.Instance`.

https://www.mongodb.com/docs/manual/reference/command/

Each connection is served in turn, one request after another, as drivers use them; many
connections are served at once. A malformed message closes its own connection only.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import ssl
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from bson.int64 import Int64

from runtime.redaction import redact
from instance import wire
from instance.errors import CommandError
from instance.scram import MECHANISM, Authenticator, AuthInfo
from instance.service import STREAM_COMMANDS, Instance

log = logging.getLogger("sluice.serve")

# Driver 7.x needs maxWireVersion >= 9; 21 is MongoDB 7.0, whose commands these replies follow.
MIN_WIRE_VERSION = 0
MAX_WIRE_VERSION = 21
SERVER_VERSION = "7.0.0"
SESSION_TIMEOUT_MINUTES = 30

_HANDSHAKE = frozenset({"hello", "isMaster", "ismaster"})
_AUTHENTICATION = frozenset({"saslStart", "saslContinue"})
LOG_NAMES = ("global", "startupWarnings")


@dataclass
class _Connection:
    id: int
    peer: str
    authenticator: Authenticator


def _internal_error(connection: _Connection, command: str, exc: Exception) -> dict[str, Any]:
    """Log an unexpected failure (redacted, no traceback that could hold a secret) and answer it."""
    message = redact(f"{type(exc).__name__}: {exc}")
    log.error("connection %d: command %s failed: %s", connection.id, redact(command), message)
    return {"ok": 0, "errmsg": f"internal error: {message}", "code": 1, "codeName": "InternalError"}


def ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side TLS context for ``--tls-cert``/``--tls-key``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


class Server:
    """Serves ``instance`` on ``host:port``; with ``users``, only authenticated clients get past the handshake."""

    def __init__(
        self,
        instance: Instance,
        host: str,
        port: int,
        users: dict[str, AuthInfo] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._instance = instance
        self._host = host
        self._port = port
        self._users = users
        self._tls = tls
        self._server: asyncio.base_events.Server | None = None
        self._handlers: set[asyncio.Task] = set()
        self._connection_ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._commands: dict[str, Callable[[_Connection, dict], dict]] = {
            "hello": self._hello,
            "isMaster": self._hello,
            "ismaster": self._hello,
            "saslStart": lambda connection, body: connection.authenticator.sasl_start(body),
            "saslContinue": lambda connection, body: connection.authenticator.sasl_continue(body),
            "ping": lambda connection, body: {"ok": 1.0},
            "buildInfo": self._build_info,
            "buildinfo": self._build_info,
            "getLog": self._get_log,
            "listDatabases": self._list_databases,
            "listCollections": self._list_collections,
            "endSessions": lambda connection, body: {"ok": 1.0},
            "connectionStatus": self._connection_status,
        }

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host  # an IPv6 address
        return f"mongodb://{host}:{self._port}"

    async def start(self) -> None:
        """Listen; with port 0 the port chosen by the system is the one :attr:`url` names."""
        self._server = await asyncio.start_server(self._serve, self._host, self._port, ssl=self._tls)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for handler in list(self._handlers):
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        self._handlers.add(handler)
        peer = writer.get_extra_info("peername")
        connection = _Connection(
            next(self._connection_ids), f"{peer[0]}:{peer[1]}" if peer else "?", Authenticator(self._users or {})
        )
        try:
            while (request := await wire.read_request(reader)) is not None:
                reply = await self._answer(connection, request)
                if not request.more_to_come:
                    writer.write(self._encode(connection, request, reply))
                    await writer.drain()
        except wire.ProtocolError as exc:
            log.warning("connection %d from %s: %s; closing it", connection.id, connection.peer, exc)
        except (ConnectionError, ssl.SSLError):
            pass  # the client went away mid-reply
        finally:
            self._handlers.discard(handler)
            self._instance.connection_closed(connection.id)
            writer.close()

    async def _answer(self, connection: _Connection, request: wire.Request) -> dict[str, Any]:
        """The reply to one request; every refusal becomes ``{ok: 0, errmsg, code, codeName}``."""
        body = request.body
        name = next(iter(body), "")
        try:
            if request.op_code == wire.OP_QUERY and name not in _HANDSHAKE:
                msg = f"Unsupported OP_QUERY command: {name}. The client driver may require an upgrade."
                raise CommandError(352, "UnsupportedOpQueryCommand", msg)
            if not isinstance(body.get("$db"), str):
                msg = "OP_MSG requests require a $db argument of type string"
                raise CommandError(40571, "Location40571", msg)
            if self._users is not None and connection.authenticator.user is None:
                if name not in _HANDSHAKE and name not in _AUTHENTICATION:
                    raise CommandError(13, "Unauthorized", f"command {name} requires authentication")
            if name in STREAM_COMMANDS:
                return await self._instance.run_command(body, connection.id)
            command = self._commands.get(name)
            if command is None:
                raise CommandError(59, "CommandNotFound", f"no such command: '{name}'")
            return command(connection, body)
        except CommandError as exc:
            return exc.reply()
        except Exception as exc:  # a bug: answered and logged, the connection and the instance go on
            return _internal_error(connection, name, exc)

    def _encode(self, connection: _Connection, request: wire.Request, reply: dict[str, Any]) -> bytes:
        request_id = next(self._request_ids)
        try:
            return wire.encode_reply(request, request_id, reply)
        except Exception as exc:  # a reply BSON cannot hold is a bug too
            failure = _internal_error(connection, next(iter(request.body), ""), exc)
            return wire.encode_reply(request, request_id, failure)

    def _hello(self, connection: _Connection, body: dict) -> dict[str, Any]:
        primary = "isWritablePrimary" if next(iter(body)) == "hello" else "ismaster"
        reply = {
            primary: True,
            "helloOk": True,
            "maxBsonObjectSize": wire.MAX_BSON_OBJECT_SIZE,
            "maxMessageSizeBytes": wire.MAX_MESSAGE_SIZE,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.now(timezone.utc),
            "logicalSessionTimeoutMinutes": SESSION_TIMEOUT_MINUTES,
            "connectionId": connection.id,
            "minWireVersion": MIN_WIRE_VERSION,
            "maxWireVersion": MAX_WIRE_VERSION,
            "readOnly": False,
        }
        if self._users is not None:
            if isinstance(body.get("saslSupportedMechs"), str):
                reply["saslSupportedMechs"] = [MECHANISM]
            speculative = body.get("speculativeAuthenticate")
            if isinstance(speculative, dict) and "saslStart" in speculative:
                try:
                    first = connection.authenticator.sasl_start(speculative)
                except CommandError:
                    pass  # mongod leaves the field out; the driver then authenticates in full and fails there
                else:
                    del first["ok"]
                    reply["speculativeAuthenticate"] = first
        reply["ok"] = 1.0
        return reply

    def _build_info(self, connection: _Connection, body: dict) -> dict[str, Any]:
        return {
            "version": SERVER_VERSION,
            "gitVersion": "sluice",
            "versionArray": [int(part) for part in SERVER_VERSION.split(".")] + [0],
            "modules": [],
            "javascriptEngine": "none",
            "bits": 64,
            "debug": False,
            "maxBsonObjectSize": wire.MAX_BSON_OBJECT_SIZE,
            "storageEngines": [],
            "ok": 1.0,
        }

    def _get_log(self, connection: _Connection, body: dict) -> dict[str, Any]:
        which = body["getLog"]
        if which == "*":
            return {"names": list(LOG_NAMES), "ok": 1.0}
        if which not in LOG_NAMES:
            raise CommandError(2, "BadValue", f"no log named {which!r}")
        return {"totalLinesWritten": 0, "log": [], "ok": 1.0}

    def _list_databases(self, connection: _Connection, body: dict) -> dict[str, Any]:
        # The instance keeps no collections; "admin" is where every stream command goes.
        if body.get("nameOnly") is True:
            return {"databases": [{"name": "admin"}], "ok": 1.0}
        admin = {"name": "admin", "sizeOnDisk": Int64(0), "empty": True}
        return {"databases": [admin], "totalSize": Int64(0), "totalSizeMb": Int64(0), "ok": 1.0}

    def _list_collections(self, connection: _Connection, body: dict) -> dict[str, Any]:
        cursor = {"id": Int64(0), "ns": f"{body['$db']}.$cmd.listCollections", "firstBatch": []}
        return {"cursor": cursor, "ok": 1.0}

    def _connection_status(self, connection: _Connection, body: dict) -> dict[str, Any]:
        user = connection.authenticator.user
        users = [{"user": user, "db": "admin"}] if user is not None else []
        info: dict[str, Any] = {"authenticatedUsers": users, "authenticatedUserRoles": []}
        if body.get("showPrivileges") is True:
            info["authenticatedUserPrivileges"] = []
        return {"authInfo": info, "ok": 1.0}


async def serve(instance: Instance, server: Server) -> int:
    """Run ``instance`` behind ``server`` until SIGTERM (exit 0) or SIGINT (exit 130).

    Prints the one ready line on stderr once the processors are resumed and the port listens.
    """
    loop = asyncio.get_running_loop()
    stopping = loop.create_future()
    for signum, status in ((signal.SIGTERM, 0), (signal.SIGINT, 130)):
        loop.add_signal_handler(signum, lambda status=status: stopping.done() or stopping.set_result(status))
    await instance.start()
    try:
        await server.start()
        metrics = instance.metrics_url()
        print(f"sluice serve: listening on {server.url}" + (f", metrics on {metrics}" if metrics else ""),
              file=sys.stderr, flush=True)
        status = await stopping
        await server.stop()
    finally:
        await instance.stop()
    return status
