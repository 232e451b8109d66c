"""Logging setup: one line per event, secrets redacted from every record.

httpx logs each request URL at INFO, and a Bot API URL contains the token, so
httpx is raised to WARNING; the redacting filter is the second line of defence
for anything else that might echo a secret (a database URL with a password, an
exception message quoting a URL).

Two formats: `text` for people (one line, then the traceback if any) and `json`
for log collectors (exactly one JSON object per line, traceback included as a
field). Both carry the stable context keys `feed`, `item`, `topic`, `chat` when
a call site passes them: `log.info("...", extra={"feed": url, "chat": chat_id})`.
The filter redacts before either formatter runs, so both formats get the same
protection.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

# Bot tokens look like 123456789:AA...; redact anything of that shape too.
_TOKEN_SHAPE = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b")
REDACTED = "[redacted]"
CONTEXT_KEYS = ("feed", "item", "topic", "chat")
LOG_FORMATS = ("text", "json")


def secret_fragments(values: Sequence[str]) -> list[str]:
    """The strings to hide: each value, and the password inside a database URL."""
    out = []
    for value in values:
        if not value:
            continue
        out.append(value)
        try:
            password = make_url(value).password
        except (ArgumentError, ValueError):
            password = None
        if password and len(password) >= 3:
            out.append(str(password))
    return sorted(set(out), key=len, reverse=True)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = secret_fragments(secrets)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_SHAPE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        # Context values are often URLs, and a feed URL may carry an API key.
        for key in CONTEXT_KEYS:
            value = record.__dict__.get(key)
            if isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {k: record.__dict__[k] for k in CONTEXT_KEYS if record.__dict__.get(k) is not None}


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, then the traceback if any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        pairs = [f"{k}={_quoted(v)}" for k, v in _context(record).items()]
        return " ".join([line, *pairs]) if pairs else line


def _quoted(value: object) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (not text or any(
        c.isspace() or c in "\"=" for c in text)) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context keys
    present, and `exception` / `stack` as strings (newlines escaped by JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(_context(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            event["exception"] = record.exc_text
        if record.stack_info:
            event["stack"] = record.stack_info
        return json.dumps(event, ensure_ascii=False, default=str)


def configure_logging(level: str, secrets: Sequence[str], fmt: str = "text") -> None:
    """Route every log record to stderr in `fmt` ("text" or "json"), redacted."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram.ext.ExtBot"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
