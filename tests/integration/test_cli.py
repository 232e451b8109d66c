"""The offline tools the way an operator runs them: subprocesses, JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from bot import config as config_module
from bot.store.engine import create_engine, migrate
from bot.store.feeds import sync_feeds
from bot.store.schema import feeds

ROOT = Path(__file__).resolve().parents[2]


def newsbot(*args: str, stdin: str = "", env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, **(env or {})})


def test_match_json_lines_in_order_with_explanations() -> None:
    lines = [
        {"id": "a", "title": "US raises tariffs on Chinese steel", "summary": ""},
        {"id": "b", "title": "Local team wins the cup", "summary": "Nothing to see."},
        {"id": "c", "title": "China curbs rare earth exports", "summary": "Magnets too."},
    ]
    result = newsbot("match", stdin="\n".join(json.dumps(x) for x in lines)
                     + "\nnot json\n[1]\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o.get("id") for o in out[:3]] == ["a", "b", "c"]
    assert "tariffs" in out[0]["topics"] and out[1]["topics"] == []
    assert "rare-earths" in out[2]["topics"]
    assert all("error" in o for o in out[3:])  # bad lines are reported, not fatal
    explained = newsbot("match", "--explain", stdin=json.dumps(lines[0]) + "\n")
    [record] = [json.loads(x) for x in explained.stdout.splitlines()]
    assert record["topics"] == out[0]["topics"]
    assert any(e["matched"] for e in record["explain"])


def test_stories_json_lines() -> None:
    lines = [
        {"id": "1", "title": "China raises tariffs on US goods to 125% as trade war escalates",
         "summary": "", "source": "Reuters", "published": "2025-04-11T08:00:00Z"},
        {"id": "2", "title": "China hits back with 125% tariffs on US goods", "summary": "",
         "source": "BBC", "published": "2025-04-11T08:20:00Z"},
        {"id": "3", "title": "Local team wins the cup", "summary": "",
         "published": "2025-04-11T08:30:00Z"},
        {"id": "4", "title": "no date"},
    ]
    result = newsbot("stories", stdin="\n".join(json.dumps(x) for x in lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert out[:3] == [{"id": "1", "story": "1"}, {"id": "2", "story": "1"},
                       {"id": "3", "story": "3"}]
    assert out[3]["id"] == "4" and "error" in out[3]


def test_feeds_table(tmp_path: Path) -> None:
    result = newsbot("feeds", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    assert result.returncode == 0, result.stderr
    assert "last success" in result.stdout and "BBC Business" in result.stdout
    assert "20 feeds, 0 failing or disabled" in result.stdout


def test_feeds_enable_polls_a_disabled_feed_again(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    configured = config_module.load(ROOT / "config" / "newsbot.toml").feeds
    gone, other = configured[0], configured[1]

    async def disable() -> None:
        engine = create_engine(database)
        try:
            await migrate(engine)
            await sync_feeds(engine, [(f.url, f.name) for f in configured])
            async with engine.begin() as conn:
                await conn.execute(update(feeds).where(feeds.c.url == gone.url).values(
                    disabled_reason="410 Gone on 2026-11-27 09:00Z"))
        finally:
            await engine.dispose()

    asyncio.run(disable())
    env = {"DATABASE_URL": database}
    before = newsbot("feeds", env=env)
    assert "disabled: 410 Gone" in before.stdout and "1 failing or disabled" in before.stdout
    unknown = newsbot("feeds", "--enable", "https://not.configured/rss", env=env)
    assert unknown.returncode == 1 and "not a configured feed URL" in unknown.stderr
    result = newsbot("feeds", "--enable", gone.url, "--enable", other.url, env=env)
    assert result.returncode == 0, result.stderr
    assert f"enabled: {gone.url}" in result.stdout
    assert f"not disabled, left as it was: {other.url}" in result.stdout
    assert "disabled:" not in result.stdout and "0 failing or disabled" in result.stdout


def test_usage_errors_exit_2() -> None:
    assert newsbot().returncode == 2
    assert newsbot("digest").returncode == 2  # --chat is required
    assert newsbot("backtest", "--since", "soon").returncode == 2
