"""`sluice serve` on the wire: handshake, ordinary commands, framing, malformed input, concurrency,
SCRAM-SHA-256 and TLS, through pymongo, mongosh and raw sockets against a real instance process."""

from __future__ import annotations

import base64
import os
import random
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading

import bson
import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError
from scramp import ScramClient

from instance_server import (
    OP_QUERY, RawConnection, RunningInstance, frame, mongosh, op_msg, op_query, wait_for, write_registry,
)  # fmt: skip

pytestmark = pytest.mark.integration

PING = {"ping": 1, "$db": "admin"}


def _merge_pipeline(documents: list) -> list:
    return [
        {"$source": {"documents": documents}},
        {"$merge": {"into": {"connectionName": "mongo", "db": "wire_tests", "coll": "out"}}},
    ]


@pytest.fixture(scope="module")
def registry(tmp_path_factory, mongodb_uri) -> str:
    return write_registry(tmp_path_factory.mktemp("registry"), {"mongo": {"type": "mongodb", "uri": mongodb_uri}})


@pytest.fixture(scope="module")
def instance(tmp_path_factory, registry):
    running = RunningInstance(registry, str(tmp_path_factory.mktemp("data")))
    yield running
    assert running.stop() == 0, "\n".join(running.stderr)


@pytest.fixture(scope="module")
def bystander(instance):
    """A client connected throughout: malformed traffic on other sockets must not disturb it."""
    client = instance.client()
    client.admin.command("ping")
    yield client
    client.close()


def test_ready_line_is_printed_once(instance):
    assert sum("listening on" in line for line in instance.stderr) == 1
    assert f"sluice serve: listening on mongodb://127.0.0.1:{instance.port}" in instance.stderr


def test_handshake_and_ordinary_commands(instance):
    client = instance.client()
    hello = client.admin.command("hello")
    assert hello["ok"] == 1 and type(hello["ok"]) is float
    assert hello["isWritablePrimary"] is True and hello["helloOk"] is True
    assert hello["minWireVersion"] == 0 and hello["maxWireVersion"] >= 9
    assert "topologyVersion" not in hello and "compression" not in hello
    assert client.admin.command("isMaster")["ismaster"] is True
    assert client.test.command("ismaster")["ismaster"] is True
    assert client.admin.command("ping") == {"ok": 1.0}
    build = client.admin.command("buildInfo")
    assert build["version"] == "7.0.0" and build["versionArray"][:3] == [7, 0, 0] and build["modules"] == []
    assert client.admin.command("getLog", "startupWarnings") == {"totalLinesWritten": 0, "log": [], "ok": 1.0}
    assert client.list_database_names() == ["admin"]
    assert client.test.list_collection_names() == []
    status = client.admin.command("connectionStatus")
    assert status["authInfo"]["authenticatedUsers"] == []
    with pytest.raises(OperationFailure) as refused:
        client.admin.command("aggregate", "atlascli", pipeline=[], cursor={})
    assert (refused.value.code, refused.value.details["codeName"]) == (59, "CommandNotFound")
    assert refused.value.details["errmsg"] == "no such command: 'aggregate'"
    client.close()  # sends endSessions, which must not break anything
    assert instance.client().admin.command("ping")["ok"] == 1


def test_op_query_handshake_gets_op_reply(instance):
    raw = RawConnection(instance)
    raw.send(op_query({"ismaster": 1, "helloOk": True, "client": {"driver": {"name": "test"}}}, request_id=77))
    (length, _, response_to, op_code), payload = raw.receive()
    assert (op_code, response_to, length) == (1, 77, 16 + len(payload))
    flags, cursor_id, starting_from, returned = struct.unpack_from("<iqii", payload)
    assert (flags, cursor_id, starting_from, returned) == (0, 0, 0, 1)
    reply = bson.decode(payload[20:])
    assert reply["ismaster"] is True and reply["ok"] == 1
    raw.send(op_query({"ping": 1}, request_id=78))
    (_, _, response_to, _), payload = raw.receive()
    assert response_to == 78 and bson.decode(payload[20:])["codeName"] == "UnsupportedOpQueryCommand"
    raw.close()


def test_more_to_come_gets_no_reply(instance):
    raw = RawConnection(instance)
    raw.send(op_msg({"endSessions": [], "$db": "admin"}, request_id=5, flags=2))
    assert raw.command(PING, request_id=6) == {"ok": 1.0}  # the first reply answers request 6
    raw.close()


def test_document_sequences_merge_into_the_body(instance):
    raw = RawConnection(instance)
    pipeline = _merge_pipeline([{"a": 1}])
    raw.send(op_msg({"createStreamProcessor": "sequenced", "$db": "admin"}, 3, sequences={"pipeline": pipeline}))
    (_, _, response_to, _), payload = raw.receive()
    assert response_to == 3 and bson.decode(payload[5:])["ok"] == 1
    listed = raw.command({"listStreamProcessors": 1, "filter": {"name": "sequenced"}, "$db": "admin"})
    assert [entry["pipeline"] for entry in listed["streamProcessors"]] == [pipeline]
    assert raw.command({"dropStreamProcessor": "sequenced", "$db": "admin"})["ok"] == 1
    raw.close()


def _document(elements: bytes) -> bytes:
    return struct.pack("<i", 5 + len(elements)) + elements + b"\x00"


def _sequence(identifier: bytes, documents: bytes, size: int | None = None) -> bytes:
    body = identifier + documents
    return b"\x01" + struct.pack("<i", 4 + len(body) if size is None else size) + body


def _malformed_messages() -> list[tuple[str, bytes, bool, str]]:
    """(id, bytes, half-close after sending, reason the server must log)."""
    ping = bson.encode(PING)
    message = op_msg(PING)
    msg_flags = struct.pack("<I", 0)
    cases = []
    for length in (0, 15, 16, -1, -(2**31), 48_000_001, 2**31 - 1, 100_000_000):
        cases.append((f"length {length}", frame(2013, msg_flags + b"\x00" + ping, length=length), False, "message length"))
    for size in (1, 5, 8, 15):
        cases.append((f"header cut at {size}", message[:size], True, "truncated header"))
    for size in (17, 20, len(message) // 2, len(message) - 1):
        cases.append((f"message cut at {size}", message[:size], True, "truncated message"))
    for op_code in (0, 1, 2001, 2002, 2005, 2006, 2007, 2010, 2011, 2012, 2014, -1, 9999):
        cases.append((f"opcode {op_code}", frame(op_code, msg_flags + b"\x00" + ping), False, "unsupported opcode"))
    for flags in (1 << 2, 1 << 3, 1 << 8, 1 << 15, 0xFFFF):
        cases.append((f"flags {flags:#x}", frame(2013, struct.pack("<I", flags) + b"\x00" + ping), False, "unknown required flag"))
    bad_bson = {
        "unknown element type": _document(b"\x20a\x00\x01"),
        "string not UTF-8": _document(b"\x02s\x00" + struct.pack("<i", 3) + b"\xff\xfe\x00"),
        "string length overruns": _document(b"\x02s\x00" + struct.pack("<i", 99) + b"ab\x00"),
        "no terminating NUL": _document(b"\x10i\x00\x01\x00\x00\x00")[:-1] + b"\x01",
        "key unterminated": struct.pack("<i", 9) + b"\x10abcd",
        "int32 cut short": _document(b"\x10i\x00\x01\x00"),
        "nested document overruns": _document(b"\x03d\x00" + struct.pack("<i", 50) + b"\x00"),
    }
    for name, document in bad_bson.items():
        cases.append((f"body: {name}", frame(2013, msg_flags + b"\x00" + document), False, "bad BSON"))
        sequence = _sequence(b"docs\x00", document)
        cases.append((f"sequence: {name}", frame(2013, msg_flags + b"\x00" + ping + sequence), False, "bad BSON"))
    structure = {
        "flag bits cut": (b"\x00\x00", "without flag bits"),
        "no sections": (msg_flags, "without a body section"),
        "only a sequence": (msg_flags + _sequence(b"docs\x00", ping), "without a body section"),
        "two bodies": (msg_flags + b"\x00" + ping + b"\x00" + ping, "two body sections"),
        "section kind 2": (msg_flags + b"\x02" + ping, "unknown kind"),
        "section kind 255": (msg_flags + b"\xff" + ping, "unknown kind"),
        "body size overruns": (msg_flags + b"\x00" + struct.pack("<i", 500) + ping[4:], "overruns"),
        "body size 4": (msg_flags + b"\x00" + struct.pack("<i", 4) + ping[4:], "overruns"),
        "body cut to 3 bytes": (msg_flags + b"\x00" + ping[:3], "truncated document"),
        "sequence size overruns": (msg_flags + b"\x00" + ping + _sequence(b"docs\x00", ping, size=900), "overruns"),
        "sequence size 2": (msg_flags + b"\x00" + ping + _sequence(b"", b"", size=2), "overruns"),
        "sequence cut": (msg_flags + b"\x00" + ping + b"\x01\x05", "truncated OP_MSG document sequence"),
        "identifier unterminated": (msg_flags + b"\x00" + ping + _sequence(b"docs", b""), "unterminated string"),
        "identifier not UTF-8": (msg_flags + b"\x00" + ping + _sequence(b"\xff\xfe\x00", ping), "not UTF-8"),
        "identifier twice": (
            msg_flags + b"\x00" + ping + _sequence(b"docs\x00", ping) + _sequence(b"docs\x00", ping),
            "appears twice",
        ),
        "identifier repeats a body field": (msg_flags + b"\x00" + ping + _sequence(b"ping\x00", ping), "repeats a body field"),
        "document in sequence overruns": (msg_flags + b"\x00" + ping + _sequence(b"docs\x00", ping[:-2]), "overruns"),
    }
    for name, (payload, reason) in structure.items():
        cases.append((f"op_msg: {name}", frame(2013, payload), False, reason))
    query_header = struct.pack("<i", 0)
    queries = {
        "not a command collection": (op_query({"ismaster": 1}, collection="admin.users")[16:], "only commands"),
        "collection unterminated": (query_header + b"admin.$cmd", "unterminated string"),
        "no query document": (query_header + b"admin.$cmd\x00" + struct.pack("<ii", 0, -1), "truncated document"),
        "query is bad BSON": (query_header + b"admin.$cmd\x00" + struct.pack("<ii", 0, -1) + bad_bson["unknown element type"], "bad BSON"),
        "trailing bytes": (op_query({"ismaster": 1})[16:] + b"xyz", "returnFieldsSelector"),
        "cut": (b"\x00\x00", "truncated OP_QUERY"),
    }
    for name, (payload, reason) in queries.items():
        cases.append((f"op_query: {name}", frame(OP_QUERY, payload), False, reason))
    generator = random.Random(13)
    for number in range(10):  # random garbage after valid flags: some framing or BSON check must catch it
        garbage = bytes(generator.randrange(256) for _ in range(generator.randrange(6, 60)))
        cases.append((f"garbage {number}", frame(2013, msg_flags + b"\x00" + garbage), False, ""))
    return cases


MALFORMED = _malformed_messages()
assert len(MALFORMED) >= 50


@pytest.mark.parametrize(("data", "half_close", "reason"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_message_closes_only_its_connection(instance, bystander, data, half_close, reason):
    raw = RawConnection(instance)
    raw.send(op_query({"ismaster": 1}))
    connection_id = bson.decode(raw.receive()[1][20:])["connectionId"]
    raw.send(data)
    if half_close:
        raw.socket.shutdown(socket.SHUT_WR)
    assert raw.receive() is None, "the server answered a malformed message instead of closing"
    raw.close()
    prefix = f"sluice serve: connection {connection_id} from "
    logged = wait_for(lambda: [line for line in instance.stderr if line.startswith(prefix)], "the logged reason")
    assert reason in logged[0] and logged[0].endswith("; closing it"), logged
    assert bystander.admin.command("ping")["ok"] == 1


MALFORMED_COMMANDS = [
    ({}, 40571),
    ({"ping": 1}, 40571),
    ({"ping": 1, "$db": 5}, 40571),
    ({"foo": 1, "$db": "admin"}, 59),
    ({"find": "c", "$db": "test"}, 59),
    ({"getLog": "bogus", "$db": "admin"}, 2),
    ({"getLog": 5, "$db": "admin"}, 2),
    ({"saslStart": 1, "mechanism": "PLAIN", "payload": b"x", "$db": "admin"}, 334),
    ({"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": "text", "$db": "admin"}, 18),
    ({"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": b"garbage", "$db": "admin"}, 18),
    ({"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": b"n,,n=nobody,r=abc", "$db": "admin"}, 18),
    ({"saslContinue": 1, "conversationId": 7, "payload": b"", "$db": "admin"}, 17),
    ({"createStreamProcessor": 5, "pipeline": [], "$db": "admin"}, None),
    ({"createStreamProcessor": "bad", "pipeline": [{"$bogus": {}}], "$db": "admin"}, None),
    ({"createStreamProcessor": "bad", "pipeline": "not a list", "$db": "admin"}, None),
    ({"createStreamProcessor": "bad", "$db": "admin"}, None),
    ({"startStreamProcessor": "missing", "$db": "admin"}, None),
    ({"stopStreamProcessor": "missing", "$db": "admin"}, None),
    ({"dropStreamProcessor": None, "$db": "admin"}, None),
    ({"getStreamProcessorStats": "missing", "$db": "admin"}, None),
    ({"modifyStreamProcessor": "missing", "pipeline": [], "$db": "admin"}, None),
    ({"getMoreSampleStreamProcessor": "missing", "cursorId": "abc", "$db": "admin"}, None),
    ({"startSampleStreamProcessor": "missing", "$db": "admin"}, None),
    ({"listStreamProcessors": 1, "filter": 5, "$db": "admin"}, None),
    ({"listStreamProcessors": 1, "filter": {"state": {"$bogus": 1}}, "$db": "admin"}, None),
    ({"processStreamProcessor": "not a list", "$db": "admin"}, None),
]


def test_malformed_commands_get_errors_and_the_connection_stays(instance):
    assert len(MALFORMED_COMMANDS) >= 20
    raw = RawConnection(instance)
    for number, (body, code) in enumerate(MALFORMED_COMMANDS, start=1):
        reply = raw.command(body, request_id=number)
        assert reply is not None, f"connection closed on {body}"
        assert reply["ok"] == 0 and isinstance(reply["errmsg"], str) and reply["errmsg"], (body, reply)
        assert isinstance(reply["code"], int) and reply["codeName"] != "InternalError", (body, reply)
        if code is not None:
            assert reply["code"] == code, (body, reply)
        assert raw.command(PING, request_id=1000 + number) == {"ok": 1.0}
    raw.close()


def test_ten_concurrent_clients(instance):
    failures: list[BaseException] = []

    def client_work(number: int) -> None:
        try:
            client = instance.client(maxPoolSize=3)
            for round_ in range(5):
                name = f"concurrent_{number}_{round_}"
                client.admin.command("createStreamProcessor", name, pipeline=_merge_pipeline([{"n": number}]))
                listed = client.admin.command("listStreamProcessors", 1, filter={"name": name})["streamProcessors"]
                assert [entry["name"] for entry in listed] == [name]
                assert client.admin.command("getStreamProcessorStats", name)["ok"] == 1
                assert client.admin.command("hello")["ok"] == 1
            client.close()
        except BaseException as exc:  # collected and re-raised by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=client_work, args=(number,)) for number in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    client = instance.client()
    listed = client.admin.command("listStreamProcessors", 1, filter={"name": {"$regex": "^concurrent_"}})
    assert len(listed["streamProcessors"]) == 50
    for entry in listed["streamProcessors"]:
        assert client.admin.command("dropStreamProcessor", entry["name"]) == {"ok": 1}
    client.close()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_signals_stop_cleanly(registry, tmp_path, signum, status):
    running = RunningInstance(registry, str(tmp_path))
    assert running.client().admin.command("ping")["ok"] == 1
    assert running.stop(signum) == status
    assert not any("Traceback" in line for line in running.stderr), running.stderr


def _add_user(users_file: str, name: str, password: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "translator.cli", "serve", "--add-user", name, "--auth", users_file]
    return subprocess.run(command, input=password + "\n", capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def secured(tmp_path_factory, registry):
    directory = tmp_path_factory.mktemp("auth")
    users_file = str(directory / "users.json")
    for name, password in (("alice", "correct horse"), ("bob", "battery staple")):
        added = _add_user(users_file, name, password)
        assert added.returncode == 0, added.stderr
    running = RunningInstance(registry, str(directory / "data"), "--auth", users_file)
    running.users_file = users_file
    yield running
    assert running.stop() == 0, "\n".join(running.stderr)


def test_users_file_keeps_no_password(secured):
    with open(secured.users_file, "rb") as file:
        content = file.read()
    assert stat.S_IMODE(os.stat(secured.users_file).st_mode) == 0o600
    for password in (b"correct horse", b"battery staple"):
        assert password not in content and base64.b64encode(password) not in content
    assert b"storedKey" in content and b"serverKey" in content


def test_nothing_before_authentication(secured):
    raw = RawConnection(secured)
    assert raw.command({"hello": 1, "$db": "admin"})["ok"] == 1
    for body in (PING, {"listStreamProcessors": 1, "$db": "admin"}, {"buildInfo": 1, "$db": "admin"},
                 {"createStreamProcessor": "x", "pipeline": [], "$db": "admin"}):
        reply = raw.command(body)
        assert (reply["ok"], reply["code"], reply["codeName"]) == (0, 13, "Unauthorized"), reply
    raw.close()
    client = secured.client()
    with pytest.raises(OperationFailure) as refused:
        client.admin.command("listStreamProcessors", 1)
    assert refused.value.code == 13


@pytest.mark.parametrize("credentials", ["alice:wrong", "nobody:correct%20horse", "bob:correct%20horse"])
def test_wrong_credentials_are_refused(secured, credentials):
    client = secured.client(f"mongodb://{credentials}@127.0.0.1:{secured.port}")
    with pytest.raises(OperationFailure) as refused:
        client.admin.command("ping")
    assert refused.value.details == {"ok": 0, "errmsg": "Authentication failed.", "code": 18, "codeName": "AuthenticationFailed"}


def test_right_credentials_are_accepted(secured):
    client = secured.client(f"mongodb://alice:correct%20horse@127.0.0.1:{secured.port}")
    assert client.admin.command("ping") == {"ok": 1.0}
    status = client.admin.command("connectionStatus")
    assert status["authInfo"]["authenticatedUsers"] == [{"user": "alice", "db": "admin"}]
    assert client.admin.command("listStreamProcessors", 1)["ok"] == 1


def test_scram_conversation_with_the_empty_exchange(secured):
    """Speculative saslStart in the OP_QUERY hello, then mongod's exchange for clients without skipEmptyExchange."""
    client = ScramClient(["SCRAM-SHA-256"], "alice", "correct horse")
    raw = RawConnection(secured)
    speculative = {"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": client.get_client_first().encode(), "db": "admin"}
    raw.send(op_query({"hello": 1, "saslSupportedMechs": "admin.alice", "speculativeAuthenticate": speculative}))
    hello = bson.decode(raw.receive()[1][20:])
    assert hello["saslSupportedMechs"] == ["SCRAM-SHA-256"]
    first = hello["speculativeAuthenticate"]
    assert first["done"] is False and "ok" not in first
    client.set_server_first(first["payload"].decode())
    final = {"saslContinue": 1, "conversationId": first["conversationId"], "payload": client.get_client_final().encode()}
    reply = raw.command({**final, "$db": "admin"})
    assert reply["done"] is False
    client.set_server_final(reply["payload"].decode())  # raises unless the server proved it knows the key
    assert raw.command(PING)["code"] == 13, "not authenticated before the empty exchange"
    empty = {"saslContinue": 1, "conversationId": first["conversationId"], "payload": b"", "$db": "admin"}
    assert raw.command(empty)["done"] is True
    assert raw.command(PING) == {"ok": 1.0}
    raw.close()


def test_mongosh_authenticates(secured, tmp_path):
    script = "print(JSON.stringify(db.runCommand({connectionStatus: 1}).authInfo.authenticatedUsers))"
    accepted = mongosh(f"mongodb://bob:battery%20staple@127.0.0.1:{secured.port}/", script, str(tmp_path))
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.strip() == '[{"user":"bob","db":"admin"}]'
    refused = mongosh(f"mongodb://bob:wrong@127.0.0.1:{secured.port}/", script, str(tmp_path))
    assert refused.returncode != 0
    assert "MongoServerError: Authentication failed." in refused.stdout + refused.stderr


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def test_tls(registry, tmp_path, certificate):
    cert, key = certificate
    running = RunningInstance(registry, str(tmp_path / "data"), "--tls-cert", cert, "--tls-key", key)
    try:
        client = running.client(tls=True, tlsCAFile=cert)
        assert client.admin.command("ping") == {"ok": 1.0}
        assert client.admin.command("listStreamProcessors", 1)["streamProcessors"] == []
        plain = running.client(serverSelectionTimeoutMS=2000)
        with pytest.raises(ServerSelectionTimeoutError):
            plain.admin.command("ping")
        shell = mongosh(running.url, "printjson(sp.listStreamProcessors())", str(tmp_path), "--tls", "--tlsCAFile", cert)
        assert (shell.returncode, shell.stdout.strip()) == (0, "[]"), shell.stderr
        assert client.admin.command("ping") == {"ok": 1.0}
    finally:
        assert running.stop() == 0
