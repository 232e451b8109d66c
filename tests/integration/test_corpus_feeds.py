"""Every real feed and every feedparser test case, served over HTTP on 127.0.0.1
(feedparser cases with their `Header:` lines as real response headers), goes
through fetch and parse without an unhandled exception; the well-formed real news
feeds come out with titles, links and dates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.feeds.fetch import Fetched, Fetcher, FetchError, FetchLimits, NotModified
from bot.feeds.parse import parse_feed
from bot.model import ParsedFeed
from tests.fakes.feed_server import FeedServer

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
NEWS = CORPUS / "news-feeds"
FEEDPARSER = CORPUS / "feedparser-tests"

# Real feeds where "every item has a title, a link and a date" cannot hold, and why.
NOT_FEEDS = {
    "orientaldaily-hk-2018-07-20-not-a-feed.xml": "proprietary XML, not RSS/Atom",
    "bloomberg-news-sitemap-2026-03-15-not-a-feed.xml": "a Google News sitemap, not a feed",
}


def news_index() -> list[dict[str, object]]:
    data = json.loads((NEWS / "_index.json").read_text())
    assert isinstance(data, list)
    return data


async def fetch_and_parse(server: FeedServer, paths: list[str]) -> dict[str, ParsedFeed | str]:
    results: dict[str, ParsedFeed | str] = {}
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=10), max_concurrency=16,
                                   per_host=16)) as fetcher:
        async def one(path: str) -> None:
            outcome = await fetcher.fetch(server.url(path))
            if isinstance(outcome, FetchError | NotModified):
                results[path] = f"fetch: {outcome}"
                return
            assert isinstance(outcome, Fetched)
            results[path] = await asyncio.to_thread(parse_feed, outcome.body, outcome.final_url,
                                                    outcome.content_type)
        await asyncio.gather(*(one(p) for p in paths))
    return results


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        for entry in news_index():
            name = str(entry["file"])
            server.serve_bytes(f"/news/{name}", (NEWS / name).read_bytes(),
                               headers={"Content-Type": "application/xml"})
        for file in sorted(FEEDPARSER.rglob("*")):
            if file.is_file() and file.suffix in (".xml", ".json", ".rdf", ".atom", ".rss"):
                rel = file.relative_to(FEEDPARSER).as_posix()
                server.serve_feedparser_case(f"/fp/{rel}", file)
        yield server


async def test_real_news_feeds_give_titles_links_and_dates(corpus_server: FeedServer) -> None:
    index = news_index()
    results = await fetch_and_parse(corpus_server, [f"/news/{e['file']}" for e in index])
    problems = []
    for entry in index:
        name = str(entry["file"])
        parsed = results[f"/news/{name}"]
        assert isinstance(parsed, ParsedFeed), f"{name}: {parsed}"
        if name in NOT_FEEDS:
            assert parsed.items == () and parsed.problem, name
            continue
        expected = int(str(entry["entries"]))
        assert len(parsed.items) == min(expected, 500), name
        dated = int(str(entry["entries_with_parsed_date"]))
        for item in parsed.items:
            if not item.title:
                problems.append(f"{name}: item without title")
            if not item.link:
                problems.append(f"{name}: item without link ({item.guid})")
        with_dates = sum(1 for i in parsed.items if i.published_at is not None)
        # A feed whose items carry no parseable date cannot give one; all others must.
        assert with_dates == dated, f"{name}: {with_dates} dated items, feedparser saw {dated}"
    assert problems == [], problems


async def test_every_feedparser_case_fetches_and_parses_without_crashing(
        corpus_server: FeedServer) -> None:
    paths = [f"/fp/{f.relative_to(FEEDPARSER).as_posix()}" for f in sorted(FEEDPARSER.rglob("*"))
             if f.is_file() and f.suffix in (".xml", ".json", ".rdf", ".atom", ".rss")]
    assert len(paths) > 2000
    results = await fetch_and_parse(corpus_server, paths)
    failures = {p: r for p, r in results.items() if isinstance(r, str)}
    assert failures == {}
    parsed = [r for r in results.values() if isinstance(r, ParsedFeed)]
    for feed in parsed:
        for item in feed.items:
            assert len(item.title) <= 1000 and len(item.summary_html) <= 100_000
    # most cases are feeds with entries; the ill-formed ones give a problem, not a crash
    assert sum(1 for f in parsed if f.items) > 1000
