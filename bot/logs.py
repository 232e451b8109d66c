"""Logging setup: one line per event, secrets redacted from every record.

httpx logs each request URL at INFO, and a Bot API URL contains the token, so
httpx is raised to WARNING; the redacting filter is the second line of defence
for anything else that might echo a secret (a database URL with a password, an
exception message quoting a URL).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

# Bot tokens look like 123456789:AA...; redact anything of that shape too.
_TOKEN_SHAPE = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b")
REDACTED = "[redacted]"


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
        return True


def configure_logging(level: str, secrets: Sequence[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram.ext.ExtBot"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
