"""``$https``: call a REST endpoint per document, to enrich it (``as``) or, as the last stage,
as a webhook sink. The requests of a chunk run concurrently (see :mod:`connectors.https`).

As Atlas documents: the response body lands in ``as`` (JSON when it parses, else the text; an
empty body leaves ``as`` unset) and ``{$meta: "stream.https"}`` gives ``url``, ``method``,
``httpStatusCode`` and ``responseTimeMs``. ``onError`` (``dlq``, the default, ``ignore``,
``fail``) applies to 400, 404, 410, 413, 414 and 431 and to headers that fail to evaluate;
any other failure (another status, or no answer after the retries) stops the processor.
``payload`` is a pipeline of ``$project``/``$addFields``/``$set``/``$replaceRoot``/
``$replaceWith`` shaping the body, sent as relaxed Extended JSON.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-https/
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import orjson

from connectors.https_requests import Request, RequestFailed, Response, check_connection
from connectors.options import OptionError
from runtime.dead_letters import DeadLetters, dead_letter
from runtime.ejson import encode_relaxed, loads_fast
from runtime.redaction import redact
from runtime.stream_meta import STREAM_META
from translator._types import MISSING, NO_VARS
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import CHUNK, MAP, SINK, STATELESS, PlanContext, StagePlan
from translator.stages._registry import stage_planner
from translator.stages.lookup import _with, as_path

ON_ERROR_STATUSES = frozenset({400, 404, 410, 413, 414, 431})
PAYLOAD_STAGES = frozenset({"$project", "$addFields", "$set", "$replaceRoot", "$replaceWith"})
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class HttpsSinkSpec:
    """``$https`` as the last stage: ``send(docs)`` makes a chunk's requests and returns its dead letters."""

    send: Callable[[list], list]


class HttpsError(RuntimeError):
    """A failure that stops the processor (Atlas: any status outside onError's, or no answer)."""


def _per_document(spec: Any, at: tuple) -> Callable[[dict], Any]:
    fn = compile_expression(spec, at)
    return lambda doc: fn(doc, NO_VARS)


def _strings(spec: Any, at: tuple, what: str) -> list[tuple[str, Callable[[dict], Any]]]:
    if type(spec) is not dict:
        msg = f"{what} must be an object of name: expression"
        raise SpecError(msg, at)
    return [(name, _per_document(value, (*at, name))) for name, value in spec.items()]


def _payload(spec: Any, ctx: PlanContext) -> Callable[[dict], dict]:
    """The body shaper: the payload stages' compiled document functions, one after another."""
    if type(spec) is not list:
        msg = "payload must be an array of $project, $addFields, $set, $replaceRoot or $replaceWith stages"
        raise SpecError(msg, ("payload",))
    steps = []
    for i, body in enumerate(spec):
        name = next(iter(body)) if type(body) is dict and len(body) == 1 else None
        if name not in PAYLOAD_STAGES:
            msg = f"payload stages are {', '.join(sorted(PAYLOAD_STAGES))}; got {name or body!r}"
            raise SpecError(msg, ("payload", str(i)))
        try:
            plan = ctx.plan_stage(Stage(i, name, body[name]), ctx)
        except SpecError as exc:
            raise SpecError(exc.message, ("payload", str(i), name, *exc.path)) from None
        assert plan.kind == MAP
        steps.append(plan.doc_fn)

    def shape(doc: dict) -> dict:
        body = {key: value for key, value in doc.items() if key != STREAM_META}
        for step in steps:
            body = step(body)
        return body

    return shape


def _timeout(config: dict, name: str, default: float) -> float:
    value = config.get(name, default)
    if not 0 < value < 900:
        msg = f"config.{name} must be more than 0 and less than 900 seconds; got {value!r}"
        raise SpecError(msg, ("config", name))
    return float(value)


def _decoded(response: Response) -> Any:
    """JSON when the body parses as JSON (Extended JSON included), else the text."""
    try:
        return loads_fast(response.body)
    except (ValueError, orjson.JSONDecodeError):
        return response.body.decode("utf-8", errors="replace")


@stage_planner("$https")
def plan_https(stage: Stage, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    connection = ctx.connection(spec["connectionName"], "https", ("connectionName",), "but $https calls an HTTPS endpoint")
    method = spec.get("method", "GET")
    path = spec.get("path", "")
    path_of = (lambda doc: path) if type(path) is str and not path.startswith("$") else _per_document(path, ("path",))
    parameters = _strings(spec.get("parameters", {}), ("parameters",), "parameters")
    headers = _strings(spec.get("headers", {}), ("headers",), "headers")
    shape = _payload(spec["payload"], ctx) if "payload" in spec else None
    on_error = spec.get("onError", "dlq")
    config = spec.get("config", {})
    connect_timeout = _timeout(config, "connectionTimeoutSec", 30)
    request_timeout = _timeout(config, "requestTimeoutSec", 60)
    as_parts = as_path(spec) if "as" in spec else None
    where = f"$https (stage {stage.index})"

    def client_for() -> Any:
        """The worker's pooled client, built at its first chunk: httpx loads only when a flow runs."""
        from connectors.https import HttpsClient

        assert connection is not None
        return HttpsClient(
            connection["url"],
            headers=connection.get("headers"),
            auth=connection.get("auth"),
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            pool_size=connection.get("poolSize", 32),
        )

    if connection is not None:
        try:
            check_connection(connection["url"], connection.get("auth"), connection.get("poolSize", 32))
        except OptionError as exc:
            raise SpecError(str(exc), ("connectionName",)) from None

    def request_of(doc: dict) -> Request:
        route = path_of(doc)
        if type(route) is not str:
            raise ValueError(f"path must evaluate to a string; got {route!r}")
        sent_headers = {}
        for name, fn in headers:
            value = fn(doc)
            if type(value) is not str:
                raise ValueError(f"header {name!r} must evaluate to a string")
            sent_headers[name] = value
        params = {name: value for name, fn in parameters if (value := fn(doc)) is not MISSING}
        body = None
        if method in WITH_BODY:
            sent_headers.setdefault("Content-Type", "application/json")
            body = encode_relaxed(shape(doc) if shape else {k: v for k, v in doc.items() if k != STREAM_META})
        return Request(method, route, {k: v if type(v) is str else orjson.dumps(v).decode() for k, v in params.items()}, sent_headers, body)

    local = threading.local()

    def handle(docs: list, dead: DeadLetters) -> list:
        """The chunk's requests at once (each worker thread has its pooled client); then each
        answer applied in order."""
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = client_for()
        kept: list = []
        requests: list = []
        for doc in docs:
            try:
                requests.append(request_of(doc))
            except Exception as exc:  # a failing expression: onError decides, as for a 4xx
                requests.append(f"{where}: {exc}")
        sendable = [request for request in requests if isinstance(request, Request)]
        answers = iter(client.send(sendable)) if sendable else iter(())
        for doc, request in zip(docs, requests):
            if not isinstance(request, Request):
                _on_error(doc, request, kept, dead)
                continue
            answer = next(answers)
            if isinstance(answer, RequestFailed):
                raise HttpsError(f"{where}: {answer}")
            if 200 <= answer.status < 300:
                kept.append(_enriched(doc, request, answer))
            elif answer.status in ON_ERROR_STATUSES:
                _on_error(doc, f"{where}: HTTP {answer.status} from {request.method} {answer.url}", kept, dead)
            else:
                raise HttpsError(f"{where}: HTTP {answer.status} from {request.method} {answer.url}, which stops the processor")
        return kept

    def _on_error(doc: dict, reason: str, kept: list, dead: DeadLetters) -> None:
        if on_error == "fail":
            raise HttpsError(redact(reason))
        if on_error == "dlq":
            dead.append(dead_letter(doc, redact(reason)))
        else:
            kept.append(doc)

    def _enriched(doc: dict, request: Request, answer: Response) -> dict:
        meta = doc.get(STREAM_META)
        https = {"url": answer.url, "method": request.method, "httpStatusCode": answer.status, "responseTimeMs": answer.elapsed_ms}
        doc[STREAM_META] = {**(meta if type(meta) is dict else {}), "https": https}
        if as_parts is not None and answer.body:
            _with(doc, as_parts, _decoded(answer))
        return doc

    def send(docs: list) -> list:
        dead = DeadLetters()
        handle(docs, dead)
        return [dead] if dead else []

    shown = redact(connection["url"]) if connection is not None else spec["connectionName"]
    if ctx.last_stage == stage.index:
        description = f"send each document with {method} to {shown} (webhook sink), a chunk's requests at once"

        return StagePlan(stage, SINK, description, spec=HttpsSinkSpec(send))
    description = f"{method} {shown} per document into {spec.get('as', '(nothing)')}, a chunk's requests at once"
    return StagePlan(stage, STATELESS, description, kind=CHUNK, doc_fn=handle)
