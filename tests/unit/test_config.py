"""Config loading: the shipped file is valid, and every problem is reported with its place."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot import config
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = """
[[feeds]]
url = "https://example.org/rss.xml"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR "trade war"'
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.loads(text)
    return [str(p) for p in info.value.problems]


def test_shipped_config_is_valid_and_covers_the_use_case() -> None:
    cfg = config.load(ROOT / "config" / "newsbot.toml")
    assert len(cfg.feeds) >= 12
    assert {"rare-earths", "tariffs", "student-visas", "export-controls"} <= set(cfg.topic_slugs)
    assert all(f.url.startswith("https://") for f in cfg.feeds)
    assert len({f.url for f in cfg.feeds}) == len(cfg.feeds)


def test_defaults_and_interval_bounds() -> None:
    cfg = config.loads(MINIMAL + """
[polling]
interval = "10m"
min_interval = "2m"
max_interval = "1h"

[[feeds]]
url = "https://example.org/fast.xml"
interval = "30s"

[[feeds]]
url = "https://example.org/slow.xml"
interval = "1d"
""")
    assert [f.interval for f in cfg.feeds] == [timedelta(minutes=10), timedelta(minutes=2),
                                              timedelta(hours=1)]
    assert cfg.feeds[0].name == "example.org"
    assert cfg.polling.seed_on_first_poll is True
    assert cfg.polling.max_item_age == timedelta(days=3)
    assert cfg.digest.timezone == "UTC"
    assert cfg.topic("tariffs") is not None and cfg.topic("nope") is None


def test_every_problem_is_reported_at_once_with_its_place() -> None:
    found = problems("""
[polling]
interval = "often"
max_concurent = 5

[[feeds]]
url = "ftp://example.org/feed"

[[feeds]]
url = "https://example.org/ok.xml"
interval = "-5m"

[topics.tariffs]
name = "Tariffs"
query = '"trade war'

[topics.BadSlug]
name = "x"
query = "x"

[digest]
time = "25:00"
timezone = "Mars/Olympus"
""")
    text = "\n".join(found)
    assert "polling.interval (line 3): not a duration" in text
    assert "polling.max_concurent (line 4): unknown key" in text
    assert "feeds[0].url (line 7): must be an http(s) URL" in text
    assert "feeds[1].interval (line 11)" in text
    assert "topics.tariffs.query (line 15): column" in text
    assert "topics" in text and "BadSlug" in text
    assert "digest.time" in text and "HH:MM" in text
    assert "digest.timezone" in text and "Mars/Olympus" in text
    assert len(found) >= 8


def test_toml_syntax_error_has_its_line() -> None:
    assert any("line 2" in p for p in problems("[polling]\ninterval = \n"))


def test_no_topics_is_an_error() -> None:
    assert problems('[[feeds]]\nurl = "https://example.org/a"\n') == [
        "topics: no topics defined: add at least one [topics.<slug>]"]


def test_duplicate_feed_is_an_error() -> None:
    found = problems(MINIMAL + '\n[[feeds]]\nurl = "https://example.org/rss.xml"\n')
    assert any("feed listed twice" in p for p in found)


def test_config_path_resolution() -> None:
    assert config.resolve_path("x.toml", {"NEWSBOT_CONFIG": "y.toml"}) == Path("x.toml")
    assert config.resolve_path(None, {"NEWSBOT_CONFIG": "y.toml"}) == Path("y.toml")
    assert config.resolve_path(None, {}) == Path("config/newsbot.toml")


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace("tariff OR", "tariff OR OR") + "\n[polling]\nfoo = 1\n")
    ok = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config", str(good)],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "ok: 1 feeds, 1 topics" in ok.stdout
    failed = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config", str(bad)],
                            capture_output=True, text=True, check=False)
    assert failed.returncode == 2
    assert "2 problem(s)" in failed.stderr
    assert "topics.tariffs.query" in failed.stderr and "polling.foo" in failed.stderr
    missing = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config",
                              str(tmp_path / "nope.toml")], capture_output=True, text=True,
                             check=False)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_channels_route_known_topics() -> None:
    cfg = config.loads(MINIMAL + """
[[telegram.channels]]
chat_id = -1001234567890
name = "Alerts"
topics = ["tariffs", "tariffs"]
""")
    assert [(c.chat_id, c.topics, c.name) for c in cfg.channels] == [
        (-1001234567890, ("tariffs",), "Alerts")]
    found = problems(MINIMAL + """
[[telegram.channels]]
chat_id = 5
topics = ["nope"]
""")
    assert any("telegram.channels[0].chat_id" in p for p in found)


def test_channel_with_an_unknown_topic() -> None:
    found = problems(MINIMAL + """
[[telegram.channels]]
chat_id = -100
topics = ["tariffs", "nope"]
""")
    assert any("routes unknown topics ['nope']" in p for p in found)
