"""SCRAM-SHA-256 on the server side, through ``saslStart``/``saslContinue`` as mongod answers them.

https://www.mongodb.com/docs/manual/core/security-scram/

The users file keeps, per user, only the salt, iteration count, StoredKey and ServerKey of
RFC 5802 (what mongod keeps too): enough to check a client's proof, never enough to log in.
``sluice serve --add-user NAME --auth FILE`` writes it.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from typing import Any, Callable

from scramp import ScramException, ScramMechanism

from instance.errors import CommandError

MECHANISM = "SCRAM-SHA-256"
ITERATION_COUNT = 15000  # mongod's default scramSHA256IterationCount

_SCRAM = ScramMechanism(MECHANISM)
_KEYS = ("salt", "storedKey", "serverKey")

AuthInfo = tuple[bytes, bytes, bytes, int]  # salt, StoredKey, ServerKey, iteration count


class UsersFileError(Exception):
    """A users file that cannot be read or is malformed; the message names the file."""


def _authentication_failed() -> CommandError:
    # mongod's answer to every authentication failure: it never says which part was wrong.
    return CommandError(18, "AuthenticationFailed", "Authentication failed.")


def _read(path: str) -> dict[str, Any]:
    """The users file's document, ``{"users": {}}`` when it does not exist yet."""
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except FileNotFoundError:
        return {"users": {}}
    except (OSError, ValueError) as exc:
        msg = f"users file {path}: {exc}"
        raise UsersFileError(msg) from None
    if not isinstance(document, dict) or not isinstance(document.get("users"), dict):
        msg = f"users file {path}: expected an object with a \"users\" object"
        raise UsersFileError(msg)
    return document


def load_users(path: str) -> dict[str, AuthInfo]:
    """The users of ``path`` (a missing file has none); UsersFileError when it is malformed."""
    return {name: _auth_info(path, name, entry) for name, entry in _read(path)["users"].items()}


def _auth_info(path: str, name: str, entry: Any) -> AuthInfo:
    try:
        if entry["mechanism"] != MECHANISM:
            msg = f"users file {path}: user {name!r} has mechanism {entry['mechanism']!r}, expected {MECHANISM}"
            raise UsersFileError(msg)
        salt, stored_key, server_key = (base64.b64decode(entry[key], validate=True) for key in _KEYS)
        iterations = entry["iterationCount"]
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"users file {path}: user {name!r} is malformed ({exc})"
        raise UsersFileError(msg) from None
    if type(iterations) is not int or iterations < 4096:
        msg = f"users file {path}: user {name!r} needs an integer iterationCount of at least 4096"
        raise UsersFileError(msg)
    return salt, stored_key, server_key, iterations


def add_user(path: str, name: str, password: str) -> None:
    """Add or replace ``name`` in the users file ``path``, written atomically and private (0600)."""
    if not name:
        msg = "a user name must not be empty"
        raise UsersFileError(msg)
    document = _read(path)
    load_users(path)  # refuse to rewrite a file holding a malformed user
    salt, stored_key, server_key, iterations = _SCRAM.make_auth_info(password, iteration_count=ITERATION_COUNT)
    keys = (base64.b64encode(value).decode("ascii") for value in (salt, stored_key, server_key))
    document["users"][name] = {"mechanism": MECHANISM, "iterationCount": iterations, **dict(zip(_KEYS, keys))}
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".users-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:  # mkstemp creates it 0600
            json.dump(document, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class Authenticator:
    """The SCRAM conversation of one connection and the user it authenticated, if any.

    mongod's exchange: saslStart(client-first) → server-first; saslContinue(client-final) →
    server-final, done at once when the client asked for ``skipEmptyExchange``, else after one
    more, empty, saslContinue.
    """

    def __init__(self, users: dict[str, AuthInfo]) -> None:
        self._users = users
        self._server = None
        self._conversation_id = 0
        self._skip_empty_exchange = False
        self._awaiting_empty_exchange = False
        self._pending_user: str | None = None
        self.user: str | None = None

    def sasl_start(self, body: dict[str, Any]) -> dict[str, Any]:
        mechanism = body.get("mechanism")
        if mechanism != MECHANISM:
            msg = f"Received authentication for mechanism {mechanism} which is not enabled"
            raise CommandError(334, "MechanismUnavailable", msg)
        payload = body.get("payload")
        if not isinstance(payload, bytes):
            raise _authentication_failed()
        options = body.get("options")
        self._skip_empty_exchange = isinstance(options, dict) and options.get("skipEmptyExchange") is True
        self._awaiting_empty_exchange = False
        self._conversation_id += 1
        self._server = _SCRAM.make_server(self._lookup)
        server_first = self._step(payload, self._server.set_client_first, self._server.get_server_first)
        return self._reply(False, server_first)

    def sasl_continue(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = body.get("payload")
        if self._server is None or body.get("conversationId") != self._conversation_id or not isinstance(payload, bytes):
            self._server = None
            raise CommandError(17, "ProtocolError", "No SASL session state found")
        if self._awaiting_empty_exchange:
            return self._succeed(b"")
        server_final = self._step(payload, self._server.set_client_final, self._server.get_server_final)
        if self._skip_empty_exchange:
            return self._succeed(server_final)
        self._awaiting_empty_exchange = True
        return self._reply(False, server_final)

    def _step(self, payload: bytes, take: Callable[[str], None], answer: Callable[[], str]) -> bytes:
        """One SCRAM round: take the client's message, answer it; any flaw fails the whole conversation."""
        try:
            take(payload.decode("utf-8"))
            return answer().encode("utf-8")
        except (ScramException, UnicodeDecodeError):
            self._server = None
            raise _authentication_failed() from None

    def _succeed(self, payload: bytes) -> dict[str, Any]:
        self._server = None
        self.user = self._pending_user
        return self._reply(True, payload)

    def _lookup(self, name: str) -> AuthInfo | None:
        self._pending_user = name
        return self._users.get(name)

    def _reply(self, done: bool, payload: bytes) -> dict[str, Any]:
        return {"conversationId": self._conversation_id, "done": done, "payload": payload, "ok": 1.0}
