"""The whole corpus as one deployment: every real news feed and every feedparser test case
configured as a feed, served on 127.0.0.1 (feedparser cases with their `Header:` lines as
response headers), polled in ONE `run_cycle` into a real SQLite file, with the real
topics of config/newsbot.toml. The cycle completes, every feed gets a result that is a
value (ok, or failed with an error), nothing reaches the "unexpected" boundary, and the
items of every well-formed real news feed are stored."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import config as config_module
from bot.config import FeedConfig
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.pipeline import PipelineDeps, run_cycle
from bot.store.feeds import feed_states, sync_feeds
from bot.store.schema import items
from bot.stories import StoryGrouper, canonical_url, resolve_source_url
from tests.fakes.feed_server import FeedServer, read_feedparser_case
from tests.support.corpus_feeds import (
    NEWS_DIR,
    case_path,
    feedparser_cases,
    news_index,
    news_path,
    serve_corpus,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)
MAX_ITEMS = 500  # bot.feeds.parse keeps the first 500 items of a document


def well_formed_news() -> list[str]:
    """Real feeds feedparser reads strictly (not bozo) and finds items in."""
    return [str(e["file"]) for e in news_index()
            if not e["bozo"] and int(str(e["entries"])) > 0]


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        serve_corpus(server)
        yield server


async def test_the_whole_corpus_in_one_cycle(corpus_server: FeedServer,
                                             sqlite_engine: AsyncEngine,
                                             caplog: pytest.LogCaptureFixture) -> None:
    paths = ([news_path(str(e["file"])) for e in news_index()]
             + [case_path(f) for f in feedparser_cases()])
    assert len(paths) > 2100
    base = config_module.load(ROOT / "config" / "newsbot.toml")
    feeds = tuple(FeedConfig(url=corpus_server.url(p), name=p.rsplit("/", 1)[-1][:200],
                             interval=timedelta(minutes=10), weight=1.0, enabled=True)
                  for p in paths)
    cfg = replace(base, feeds=feeds, polling=replace(
        base.polling, max_feeds_per_cycle=len(feeds), max_concurrency=16, per_host=16))
    await sync_feeds(sqlite_engine, [(f.url, f.name) for f in feeds])

    caplog.set_level(logging.INFO, logger="bot")
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=20), max_concurrency=16,
                                   per_host=16)) as fetcher:
        report = await run_cycle(PipelineDeps(sqlite_engine, fetcher, cfg, StoryGrouper()), NOW)

    # Every feed polled once, and each outcome is a value.
    by_url = {r.url: r for r in report.results}
    assert len(report.results) == len(feeds) and set(by_url) == {f.url for f in feeds}
    assert corpus_server.stats().requests == len(feeds)
    assert {r.status for r in report.results} <= {"ok", "failed"}
    assert all(r.error for r in report.results if r.status == "failed")
    # (the format string, not the message: one case's file name says "unexpected")
    unexpected = [r for r in caplog.records if "unexpected" in str(r.msg)]
    assert unexpected == [], [r.getMessage()[:200] for r in unexpected[:5]]
    assert [r.getMessage()[:200] for r in caplog.records if r.levelno >= logging.ERROR] == []
    # Failures are the documents' fault, said in words: fetch or parse, not a Python repr.
    odd = {u: r.error for u, r in by_url.items()
           if r.status == "failed" and not str(r.error).startswith(("parse: ", "http: "))}
    assert odd == {}
    # A feedparser case in which feedparser, given the same bytes and headers, finds
    # entries is "ok" (one without entries may be a quiet feed or a broken document).
    wrong: list[str] = []
    for file in feedparser_cases():
        case = read_feedparser_case(file)
        headers = {k.lower(): v for k, v in case.headers}
        entries = feedparser.parse(file.read_bytes(), response_headers=headers).entries
        result = by_url[corpus_server.url(case_path(file))]
        if entries and result.status != "ok":
            wrong.append(f"{file.name}: {len(entries)} entries, but {result.error}")
    assert wrong == [], wrong[:10]
    assert report.count("ok") > 1000

    states = {s.url: s for s in await feed_states(sqlite_engine)}
    assert all(s.last_status in ("ok", "failed") for s in states.values())
    assert all(s.seeded for s in states.values() if s.last_status == "ok")

    # Every item of every well-formed real news feed is stored: under this feed, or (the
    # same article in another snapshot or format of the same publisher, e.g. Google
    # News as RSS and as Atom) under its URL or GUID.
    async with sqlite_engine.connect() as conn:
        rows = (await conn.execute(select(items.c.guid, items.c.url, items.c.canonical_url,
                                          items.c.feed_id))).all()
    guids = {r.guid for r in rows if r.guid}
    urls = {u for r in rows for u in (r.url, r.canonical_url) if u}
    per_feed: dict[int, int] = {}
    for r in rows:
        per_feed[r.feed_id] = per_feed.get(r.feed_id, 0) + 1
    missing: list[str] = []
    for name in well_formed_news():
        url = corpus_server.url(news_path(name))
        result, state = by_url[url], states[url]
        assert result.status == "ok", (name, result.error)
        # (no "> 0": which of two copies of one article is stored first is a race)
        assert result.new_items == state.item_count == per_feed.get(state.id, 0), name
        parsed = feedparser.parse((NEWS_DIR / name).read_bytes())
        for entry in parsed.entries[:MAX_ITEMS]:
            guid = str(entry.get("id") or "").strip()
            link = str(entry.get("link") or "").strip()
            # An aggregator's link (Google News, Bing) is stored as the outlet's URL.
            source = entry.get("source") or {}
            article = resolve_source_url(link or None, source.get("href"))
            if not (guid in guids or link in urls
                    or (article and canonical_url(article) in urls)):
                missing.append(f"{name}: {guid or link or entry.get('title')}")
    assert missing == [], missing[:10]
