"""Secrets never reach a log line."""

import io
import json
import logging
import re

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


def log_everything(fmt: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Configure `fmt`, log secrets every way they could leak, return the output."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("DEBUG", [TOKEN, DB_URL], fmt=fmt)
    log = logging.getLogger("bot.test")
    log.info("POST https://api.telegram.org/bot%s/sendMessage", TOKEN)
    log.warning("cannot open %s", DB_URL, extra={"feed": f"https://x/?key={TOKEN}"})
    try:
        try:
            raise ConnectionError(f"password authentication failed: {DB_URL}")
        except ConnectionError as inner:
            raise RuntimeError(f"bot{TOKEN} unreachable") from inner
    except RuntimeError:
        log.exception("delivery failed", extra={"chat": 42, "item": "guid-1"})
    log.error("stack", stack_info=True, extra={"topic": "tariffs"})
    return stream.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_appear_in_either_format(fmt: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    text = log_everything(fmt, monkeypatch)
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text
    assert "s3cret-pass" not in text
    assert "password authentication failed" in text  # the chained traceback is there
    assert "RuntimeError" in text
    assert text.count("[redacted]") >= 5


def test_json_is_one_object_per_event_with_stable_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = log_everything("json", monkeypatch).splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == 4  # the traceback and stack stay inside their event
    for event in events:
        assert list(event)[:4] == ["time", "level", "logger", "message"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])
        assert event["logger"] == "bot.test"
    assert events[1]["level"] == "WARNING"
    assert events[1]["feed"] == "https://x/?key=[redacted]"
    assert events[2]["message"] == "delivery failed"
    assert (events[2]["chat"], events[2]["item"]) == (42, "guid-1")
    assert "Traceback" in events[2]["exception"]
    assert events[3]["topic"] == "tariffs" and "stack" in events[3]
    assert "feed" not in events[0] and "exception" not in events[0]


def test_text_format_appends_context_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("INFO", [])
    logging.getLogger("bot.pipeline").warning(
        "feed failed", extra={"feed": "https://example.org/rss", "topic": "rare earths"})
    line = stream.getvalue().rstrip("\n")
    assert "\n" not in line
    assert line.endswith(' WARNING bot.pipeline: feed failed feed=https://example.org/rss '
                         'topic="rare earths"')


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        configure_logging("INFO", [], fmt="xml")


def test_context_keys_reach_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("INFO", [], fmt="json")
    logging.getLogger("bot.pipeline").warning("feed %s failed", "https://e.org/f",
                                              extra={"feed": "https://e.org/f"})
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["feed"] == "https://e.org/f" and record["level"] == "WARNING"
