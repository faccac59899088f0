"""``$https`` against a real HTTP server the tests start on a free loopback port (the remote
service, not a mock of sluice's client): enrichment, onError, the webhook sink, secrets."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from bytewax.errors import BytewaxRuntimeError
from pipeline_runner import run_pipeline, with_documents

from translator import plan
from translator.connections import parse_registry
from translator.errors import PipelineSyntaxError, PipelineValidationError
from translator.parse import parse_pipeline

TOKEN = "s3cr3t-token-value"


class Service(BaseHTTPRequestHandler):
    """Routes: /users/<id> echoes the request as JSON, /status/<code>, /text, /empty, /slow,
    /flaky/<key> (503 twice, then 200), /hook (records POST bodies)."""

    received: list = []
    flaky: dict = {}
    lock = threading.Lock()

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts[0] == "users":
            echo = {
                "id": parts[1], "method": self.command, "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                "tenant": self.headers.get("X-Tenant"), "authorized": self.headers.get("Authorization") == f"Bearer {TOKEN}",
                "body": json.loads(body) if body else None,
            }  # fmt: skip
            self._answer(200, json.dumps(echo).encode())
        elif parts[0] == "status":
            self._answer(int(parts[1]), b'{"error": true}')
        elif parts[0] == "text":
            self._answer(200, b"plain words", "text/plain")
        elif parts[0] == "empty":
            self._answer(200)
        elif parts[0] == "slow":
            time.sleep(2)
            self._answer(200, b"{}")
        elif parts[0] == "flaky":
            with self.lock:
                seen = self.flaky[parts[1]] = self.flaky.get(parts[1], 0) + 1
            self._answer(503 if seen <= 2 else 200, json.dumps({"tries": seen}).encode())
        elif parts[0] == "hook":
            with self.lock:
                self.received.append(json.loads(body))
            self._answer(204)
        else:
            self._answer(404)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _route


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # room for a pool's connections arriving at once
    daemon_threads = True


@pytest.fixture(scope="module")
def service():
    server = Server(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def registry(service):
    return parse_registry({"connections": {"api": {"type": "https", "url": service, "auth": {"type": "bearer", "token": TOKEN}}}})


USERS = [{"_id": i, "user": f"u{i}", "tenant": "acme"} for i in range(1, 4)]


def run(stages: list, registry, docs: list = USERS, sink: bool = False):
    """Run the stages; unless testing the sink, a last pass-through stage keeps $https an enrichment."""
    return run_pipeline({"name": "h", "pipeline": with_documents(docs, stages if sink else [*stages, {"$match": {}}])}, registry)


def test_enrichment_with_path_parameters_headers_and_as(registry) -> None:
    stage = {"$https": {
        "connectionName": "api", "path": {"$concat": ["/users/", "$user"]},
        "parameters": {"verbose": "yes", "n": "$_id"}, "headers": {"X-Tenant": "$tenant"}, "as": "profile",
    }}  # fmt: skip
    result = run([stage, {"$project": {"profile": 1, "code": {"$meta": "stream.https.httpStatusCode"}, "method": {"$meta": "stream.https.method"}}}], registry)
    assert result.dead == []
    assert [d["profile"] for d in result.docs] == [
        {"id": f"u{i}", "method": "GET", "query": {"verbose": "yes", "n": str(i)}, "tenant": "acme", "authorized": True, "body": None}
        for i in range(1, 4)
    ]
    assert {(d["code"], d["method"]) for d in result.docs} == {(200, "GET")}
    (doc,) = run([stage, {"$project": {"meta": {"$meta": "stream.https"}}}], registry, USERS[:1]).docs
    assert set(doc["meta"]) == {"url", "method", "httpStatusCode", "responseTimeMs"}
    assert doc["meta"]["url"].endswith("/users/u1") and doc["meta"]["responseTimeMs"] >= 0


def test_post_payload_shapes_the_body(registry) -> None:
    stage = {"$https": {
        "connectionName": "api", "path": "/users/x", "method": "POST",
        "payload": [{"$project": {"_id": 0, "who": "$user"}}, {"$addFields": {"kind": "signup"}}], "as": "echo",
    }}  # fmt: skip
    result = run([stage], registry)
    assert [d["echo"]["body"] for d in result.docs] == [{"who": f"u{i}", "kind": "signup"} for i in range(1, 4)]


def test_text_bodies_land_as_strings_and_empty_bodies_leave_as_unset(registry) -> None:
    text = run([{"$https": {"connectionName": "api", "path": "/text", "as": "t"}}], registry, USERS[:1]).docs
    empty = run([{"$https": {"connectionName": "api", "path": "/empty", "as": "t"}}], registry, USERS[:1]).docs
    assert text[0]["t"] == "plain words"
    assert "t" not in empty[0]


def test_transient_failures_are_retried(registry) -> None:
    stage = {"$https": {"connectionName": "api", "path": {"$concat": ["/flaky/", "$user", "-retry"]}, "as": "r"}}
    result = run([stage], registry)
    assert [d["r"] for d in result.docs] == [{"tries": 3}] * 3


@pytest.mark.parametrize("code", [400, 404, 410, 413, 414, 431])
def test_on_error_dlq_is_the_default_for_atlas_client_errors(registry, code) -> None:
    result = run([{"$https": {"connectionName": "api", "path": f"/status/{code}", "as": "r"}}], registry, USERS[:2])
    assert result.docs == []
    assert [r["doc"]["_id"] for r in result.dead] == [1, 2]
    assert f"HTTP {code} from GET http://127.0.0.1:" in result.dead[0]["errInfo"]["reason"]


def test_on_error_ignore_passes_the_document_on_without_as(registry) -> None:
    result = run([{"$https": {"connectionName": "api", "path": "/status/404", "as": "r", "onError": "ignore"}}], registry, USERS[:2])
    assert [d["_id"] for d in result.docs] == [1, 2] and all("r" not in d for d in result.docs)
    assert result.dead == []


def test_a_failing_header_expression_follows_on_error(registry) -> None:
    stage = {"$https": {"connectionName": "api", "path": "/users/a", "headers": {"X-Tenant": "$missing"}, "as": "r"}}
    result = run([stage], registry, USERS[:1])
    (record,) = result.dead
    assert "header 'X-Tenant' must evaluate to a string" in record["errInfo"]["reason"]


@pytest.mark.parametrize(
    ("path", "on_error", "message"),
    [
        ("/status/404", "fail", "HTTP 404 from GET"),
        ("/status/500", "ignore", "HTTP 500 from GET"),  # retried, then stops the processor, as in Atlas
        ("/status/401", "dlq", "HTTP 401 from GET"),
        ("/slow", "ignore", "timed out after 4 attempts"),
    ],
)
def test_failures_that_stop_the_processor(registry, path, on_error, message) -> None:
    stage = {"$https": {"connectionName": "api", "path": path, "as": "r", "onError": on_error, "config": {"requestTimeoutSec": 0.2}}}
    with pytest.raises(BytewaxRuntimeError) as caught:
        run([stage], registry, USERS[:1])
    chain, error = [], caught.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    text = " | ".join(chain)
    assert message in text
    assert TOKEN not in text


def test_webhook_sink_receives_every_document_once(registry) -> None:
    Service.received.clear()
    docs = [{"_id": i, "alert": f"a{i}"} for i in range(50)]
    result = run([{"$https": {"connectionName": "api", "path": "/hook", "method": "POST"}}], registry, docs, sink=True)
    assert result.docs == [] and result.dead == []
    assert sorted(r["_id"] for r in Service.received) == list(range(50))
    assert all("_stream_meta" not in r for r in Service.received)


def test_secrets_never_show_in_plans_or_dead_letters(service) -> None:
    url = service.replace("http://", f"http://user:{TOKEN}@")
    registry = parse_registry({"connections": {"api": {"type": "https", "url": url}}})
    pipeline = with_documents(USERS[:1], [{"$https": {"connectionName": "api", "path": "/status/404", "as": "r"}}])
    (_, plan_) = plan(parse_pipeline(pipeline), registry)[:2]
    assert TOKEN not in plan_.description
    result = run_pipeline(pipeline, registry)
    assert TOKEN not in json.dumps(result.dead, default=str)


def test_bad_stage_options_are_refused_at_translation(registry) -> None:
    stage = {"$https": {"connectionName": "api", "config": {"requestTimeoutSec": 900}}}
    with pytest.raises(PipelineValidationError, match="config.requestTimeoutSec must be more than 0 and less than 900 seconds"):
        plan(parse_pipeline(with_documents([], [stage])), registry)
    stage = {"$https": {"connectionName": "api", "payload": [{"$match": {}}]}}
    with pytest.raises(PipelineValidationError, match="payload stages are"):
        plan(parse_pipeline(with_documents([], [stage])), registry)


def test_https_enriches_inside_a_window_pipeline(registry) -> None:
    window = {"$tumblingWindow": {"interval": {"size": 1, "unit": "day"}, "pipeline": [
        {"$https": {"connectionName": "api", "path": {"$concat": ["/users/", "$user"]}, "as": "profile"}},
        {"$group": {"_id": None, "ids": {"$push": "$profile.id"}}},
    ]}}  # fmt: skip
    result = run([window], registry)
    assert [sorted(d["ids"]) for d in result.docs] == [["u1", "u2", "u3"]]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "https"}, "connection 'api': an https connection needs a 'url' string"),
        ({"type": "https", "url": "http://h", "headers": {"X": 1}}, "connection 'api': headers must be an object of strings"),
    ],
)
def test_https_connections_are_checked(entry, message) -> None:
    with pytest.raises(PipelineSyntaxError, match=message):
        parse_registry({"connections": {"api": entry}})
