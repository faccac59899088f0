"""`sluice serve` as tests run it: a real instance process on a free port, its stderr collected,
and raw wire-protocol helpers for what no driver would send."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import bson
import pytest
from pymongo import MongoClient

READY = re.compile(r"^sluice serve: listening on mongodb://([^:]+):(\d+)")

OP_QUERY = 2004
OP_MSG = 2013


def wait_for(condition, what: str, timeout: float = 60.0, interval: float = 0.05):
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout:.0f} s waiting for {what}"
            raise AssertionError(msg)
        time.sleep(interval)


def write_registry(directory, connections: dict) -> str:
    path = os.path.join(directory, "connections.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump({"connections": connections}, file)
    return path


class RunningInstance:
    """One ``sluice serve`` process; ``stderr`` holds every line it printed there so far."""

    def __init__(self, connections: str, data: str, *extra: str) -> None:
        self.data = data
        command = [sys.executable, "-m", "translator.cli", "serve", "--connections", connections, "--data", data]
        self.process = subprocess.Popen(
            [*command, "--port", "0", *extra], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.stderr: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()
        ready = wait_for(self._ready, "the instance's ready line", timeout=90)
        self.host, self.port = ready.group(1), int(ready.group(2))
        self.url = f"mongodb://{self.host}:{self.port}"

    def _collect(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _ready(self):
        if self.process.poll() is not None:
            output = "\n".join(self.stderr)
            msg = f"sluice serve exited with {self.process.returncode}:\n{output}"
            raise AssertionError(msg)
        return next((match for line in self.stderr if (match := READY.match(line))), None)

    def client(self, url: str | None = None, **options) -> MongoClient:
        """A pymongo client of this instance (``url`` to give credentials)."""
        options.setdefault("serverSelectionTimeoutMS", 10_000)
        return MongoClient(url or self.url, **options)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum``, then the exit status (killed after a minute, which fails the caller's check)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def mongosh(url: str, script: str, home: str, *options: str, wait: bool = True):
    """Stock mongosh (from tests/run.sh) running ``script`` in ``--quiet --eval`` mode, with its own HOME.

    Returns the completed process, or with ``wait=False`` the running one, its stdout a pipe.
    """
    executable = os.environ.get("SLUICE_TEST_MONGOSH")
    if not executable or not os.path.exists(executable):
        pytest.fail("SLUICE_TEST_MONGOSH is not set or missing: run the suite through `bash tests/run.sh`")
    os.makedirs(home, exist_ok=True)
    environment = {**os.environ, "HOME": home, "MONGOSH_FORCE_DISABLE_TELEMETRY_FOR_TESTING": "1"}
    command = [executable, url, "--quiet", *options, "--eval", script]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment)
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=environment)


def op_msg(body: dict, request_id: int = 1, flags: int = 0, sequences: dict | None = None) -> bytes:
    """An OP_MSG frame: one kind-0 body, then a kind-1 section per ``sequences`` entry."""
    sections = b"\x00" + bson.encode(body)
    for identifier, documents in (sequences or {}).items():
        payload = identifier.encode() + b"\x00" + b"".join(bson.encode(document) for document in documents)
        sections += b"\x01" + struct.pack("<i", 4 + len(payload)) + payload
    return frame(OP_MSG, struct.pack("<I", flags) + sections, request_id)


def op_query(query: dict, collection: str = "admin.$cmd", request_id: int = 1) -> bytes:
    payload = struct.pack("<i", 0) + collection.encode() + b"\x00" + struct.pack("<ii", 0, -1) + bson.encode(query)
    return frame(OP_QUERY, payload, request_id)


def frame(op_code: int, payload: bytes, request_id: int = 1, length: int | None = None) -> bytes:
    """A message header (with the true length unless ``length`` says otherwise) and ``payload``."""
    true_length = 16 + len(payload)
    return struct.pack("<iiii", true_length if length is None else length, request_id, 0, op_code) + payload


class RawConnection:
    """A plain socket to the instance, for frames no driver sends."""

    def __init__(self, instance: RunningInstance, timeout: float = 30.0) -> None:
        self.socket = socket.create_connection((instance.host, instance.port), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.socket.sendall(data)

    def receive(self) -> tuple[tuple[int, int, int, int], bytes] | None:
        """The next reply (header, payload), or None when the server closed the connection."""
        header = self._exactly(16)
        if header is None:
            return None
        fields = struct.unpack("<iiii", header)
        payload = self._exactly(fields[0] - 16)
        return (fields, payload) if payload is not None else None

    def command(self, body: dict, request_id: int = 1) -> dict | None:
        """Send ``body`` as OP_MSG; its reply body, or None if the server closed the connection."""
        self.send(op_msg(body, request_id))
        reply = self.receive()
        if reply is None:
            return None
        (_, _, response_to, op_code), payload = reply
        assert (op_code, response_to) == (OP_MSG, request_id)
        assert payload[:5] == b"\x00\x00\x00\x00\x00", "flags 0 and one kind-0 section"
        return bson.decode(payload[5:])

    def _exactly(self, count: int) -> bytes | None:
        data = b""
        while len(data) < count:
            try:
                chunk = self.socket.recv(count - len(data))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def close(self) -> None:
        self.socket.close()
