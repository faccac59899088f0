"""Credentials hidden from every message, log line, DLQ reason and ``translate`` output.

Two layers, so that no spelling of a secret slips through: every secret the connection
registry holds is remembered when it is loaded and replaced wherever it appears (also
percent-encoded or escaped), and patterns hide the credential shapes of text that never went
through the registry (URI userinfo, ``password=``-like settings, ``user:pass@host``).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import quote, unquote

__all__ = ["SECRET_FIELD", "forget_secrets", "install_log_redaction", "redact", "remember_secrets"]

HIDDEN = "***"
# Field and setting names that hold a secret: password, sasl.password, ssl.key.password, apiKey, ...
SECRET_FIELD = re.compile(
    r"(?:passw(?:or)?d|\bpwd\b|secret|credential|api[_.-]?key|private[_.-]?key|[_.-]token\b|\btoken\b|jaas\.config)",
    re.IGNORECASE,
)
# scheme:// (or its percent-encoded form) ... up to the last @ (or %40) before the host, on one line.
_SCHEME = re.compile(r"://|%3A%2F%2F", re.IGNORECASE)  # found first: a scheme-first pattern is quadratic
_AT = re.compile(r"@|%40", re.IGNORECASE)
_SETTING_KEY = r"[\w.-]*(?:passw(?:or)?d|pwd|secret|credentials?|api[_.-]?key|private[_.-]?key|token|jaas\.config)[\w.-]*"
# key = 'value' / "key": "value" / key=value (query strings, librdkafka settings, reprs)
_QUOTED_SETTING = re.compile(rf"""(?i)((?<![\w.-]){_SETTING_KEY}["']?\s*[:=]\s*)(["'])((?:\\.|(?!\2).)*)\2""")
_BARE_SETTING = re.compile(rf"""(?i)((?<![\w.-]){_SETTING_KEY}\s*=\s*)([^&\s,;'"}}\]]+)""")
# user:password@host:port with no scheme, as people write in Kafka bootstrapServers
_BARE_USERINFO = re.compile(r"(?<![\w/:%@.-])[^\s,;/@'\"]+:[^\s,;/@'\"]*@(?=[\w.\[\]-]+:\d)")
_MIN_REMEMBERED = 4  # shorter secrets would blank ordinary words; the patterns still hide them

_remembered: set[str] = set()


def remember_secrets(*secrets: Any) -> None:
    """Hide these values (and their encoded spellings) in every later :func:`redact`."""
    for secret in secrets:
        if type(secret) is not str or len(secret) < _MIN_REMEMBERED:
            continue
        _remembered.update({secret, quote(secret, safe=""), quote(secret), json.dumps(secret)[1:-1], repr(secret)[1:-1]})
        _remembered.add(unquote(secret))


def forget_secrets() -> None:
    """Drop every remembered secret (for tests that load several registries)."""
    _remembered.clear()


def _hide_userinfo(text: str) -> str:
    out, position = [], 0
    for scheme in _SCHEME.finditer(text):
        if scheme.start() < position:
            continue
        start = scheme.end()
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        following = _SCHEME.search(text, start, line_end)
        end = following.start() if following else line_end
        last_at = None
        for at in _AT.finditer(text, start, end):
            last_at = at
        if last_at is None:
            continue
        out.append(text[position:start])
        out.append(HIDDEN)
        position = last_at.start()
    out.append(text[position:])
    return "".join(out)


def redact(text: str) -> str:
    """``text`` with every credential hidden: remembered secrets, URI userinfo (any characters,
    percent-encoded or not), ``password=``-like settings, ``user:pass@`` before a host."""
    if type(text) is not str:
        text = str(text)
    for secret in sorted(_remembered, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, HIDDEN)
    text = _hide_userinfo(text)
    text = _QUOTED_SETTING.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}{m.group(2)}", text)
    text = _BARE_SETTING.sub(lambda m: f"{m.group(1)}{HIDDEN}", text)
    return _BARE_USERINFO.sub(f"{HIDDEN}@", text)


class _RedactingRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802  (logging's spelling)
        return redact(super().getMessage())


def install_log_redaction() -> None:
    """Every log record of this process, from any library, is redacted when formatted."""
    logging.setLogRecordFactory(_RedactingRecord)
