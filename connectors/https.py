"""HTTPS requests for ``$https``: a batch at a time, concurrently through one pooled client.

httpx gives connection pooling with keep-alive across requests, separate connect and read
timeouts (Atlas's ``connectionTimeoutSec`` and ``requestTimeoutSec``) and basic auth, all
thread-safe, so a bounded thread pool keeps up to ``pool_size`` requests in flight and a
batch costs about one round trip per ``pool_size`` documents instead of one per document.
Transient failures (connection errors, timeouts, 408, 429, 5xx) are retried with
exponential backoff. Messages never carry credentials: URLs pass through ``redact`` and
headers are never shown.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-https/
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from connectors.https_requests import ATTEMPTS, Request, RequestFailed, Response, check_connection
from runtime.redaction import redact

RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class HttpsClient:
    """One pooled client per connection and worker; ``send(requests)`` keeps their order."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict | None = None,
        auth: dict | None = None,
        connect_timeout: float = 30.0,
        request_timeout: float = 60.0,
        pool_size: int = 32,
        attempts: int = ATTEMPTS,
        first_backoff: float = 0.1,
    ) -> None:
        """Check the configuration; connections open on the first request.

        Args:
            url: the connection's base URL; a stage's ``path`` is appended.
            headers: sent with every request (the stage's headers win).
            auth: ``{"type": "basic", "username", "password"}`` or ``{"type": "bearer", "token"}``.
            connect_timeout: seconds to establish a connection.
            request_timeout: seconds for a whole request once connected.
            pool_size: requests in flight at once.
            attempts: tries per request for transient failures.
            first_backoff: seconds before the first retry; doubles each time.
        """
        check_connection(url, auth, pool_size, attempts)
        self._base = url.rstrip("/")
        base_headers = dict(headers or {})
        basic = None
        if auth is not None:
            kind = auth.get("type")
            if kind == "basic" and {"username", "password"} <= set(auth):
                basic = httpx.BasicAuth(auth["username"], auth["password"])
            elif kind == "bearer" and "token" in auth:
                base_headers["Authorization"] = f"Bearer {auth['token']}"
        self._timeout = httpx.Timeout(request_timeout, connect=connect_timeout)
        self._client_options = dict(
            headers=base_headers,
            auth=basic,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
            follow_redirects=True,
        )
        self._pool_size = pool_size
        self._attempts = attempts
        self._first_backoff = first_backoff
        self._client: httpx.Client | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _ensure_open(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(**self._client_options)
                self._executor = ThreadPoolExecutor(self._pool_size, thread_name_prefix="https")
            return self._client

    def send(self, requests: list[Request]) -> list[Response | RequestFailed]:
        """Every request's response (or its failure), in order; up to ``pool_size`` at once."""
        client = self._ensure_open()
        if len(requests) == 1 or self._pool_size == 1:
            return [self._send_one(client, request) for request in requests]
        assert self._executor is not None
        return list(self._executor.map(lambda request: self._send_one(client, request), requests))

    def _send_one(self, client: httpx.Client, request: Request) -> Response | RequestFailed:
        url = self._base + request.path if request.path.startswith("/") or not request.path else f"{self._base}/{request.path}"
        shown = redact(url)
        delay = self._first_backoff
        failure = RequestFailed(f"{request.method} {shown} was not sent")
        for attempt in range(1, self._attempts + 1):
            started = time.monotonic()
            try:
                answer = client.request(request.method, url, params=request.params, headers=request.headers, content=request.body)
            except httpx.TimeoutException:
                failure = RequestFailed(f"{request.method} {shown} timed out after {attempt} attempts")
            except httpx.TransportError as exc:
                failure = RequestFailed(f"{request.method} {shown} failed after {attempt} attempts: {type(exc).__name__}")
            else:
                elapsed = int((time.monotonic() - started) * 1000)
                if answer.status_code not in RETRIED_STATUSES or attempt == self._attempts:
                    return Response(shown, answer.status_code, answer.headers.get("content-type", ""), answer.content, elapsed)
            if attempt < self._attempts:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        return failure

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                assert self._executor is not None
                self._executor.shutdown(wait=False)
                self._client = self._executor = None
