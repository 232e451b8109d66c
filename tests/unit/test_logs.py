"""Secrets never reach a log line."""

import io
import logging

import pytest

from bot.logs import RedactingFilter, configure_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
DB_URL = "postgresql://newsbot:s3cret-pass@db.internal:5432/newsbot"


def test_token_and_password_are_redacted_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("DEBUG", [TOKEN, DB_URL])
    log = logging.getLogger("bot.test")
    log.info("POST https://api.telegram.org/bot%s/sendMessage", TOKEN)
    log.warning("cannot open %s", DB_URL)
    try:
        raise RuntimeError(f"connection to {DB_URL} failed")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("httpx").info("HTTP Request: POST .../bot%s/getUpdates", TOKEN)
    text = stream.getvalue()
    assert TOKEN not in text
    assert "s3cret-pass" not in text
    assert text.count("[redacted]") >= 3
    assert "getUpdates" not in text  # httpx request lines are below WARNING


def test_token_shaped_strings_are_redacted_even_if_unknown() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token 987654:%s",
                               ("A" * 35,), None)
    RedactingFilter([]).filter(record)
    assert "AAAA" not in record.getMessage()
