"""What ``$https`` sends and gets back, and the checks of its connection, without httpx:
the translator plans a ``$https`` stage with these; :mod:`connectors.https` sends them.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-https/
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.options import OptionError
from runtime.redaction import redact

CONNECTION = "https connection"
ATTEMPTS = 4  # tries per request for transient failures


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # joined to the connection's url
    params: dict
    headers: dict
    body: bytes | None


@dataclass(frozen=True)
class Response:
    url: str  # redacted
    status: int
    content_type: str
    body: bytes
    elapsed_ms: int


class RequestFailed(Exception):
    """No answer after the retries (connection error or timeout); the message is safe to show."""


def check_connection(url: str, auth: dict | None, pool_size: int, attempts: int = ATTEMPTS) -> None:
    """The connection's url, auth and pool, as the client will use them."""
    if not url.startswith(("http://", "https://")):
        raise OptionError(CONNECTION, f"must start with https:// or http://; got {redact(url)!r}", ("url",))
    if pool_size < 1 or attempts < 1:
        raise OptionError(CONNECTION, f"poolSize and attempts must be at least 1; got {pool_size}, {attempts}", ("poolSize",))
    if auth is not None:
        kind = auth.get("type")
        if not (kind == "basic" and {"username", "password"} <= set(auth)) and not (kind == "bearer" and "token" in auth):
            msg = 'must be {"type": "basic", "username", "password"} or {"type": "bearer", "token"}'
            raise OptionError(CONNECTION, msg, ("auth",))
