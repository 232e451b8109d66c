"""Every real feed and every feedparser test case, served over HTTP on 127.0.0.1
(feedparser cases with their `Header:` lines as real response headers), goes
through fetch and parse without an unhandled exception; the well-formed real news
feeds come out with titles, links and dates."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.feeds.fetch import Fetched, Fetcher, FetchError, FetchLimits, NotModified
from bot.feeds.parse import parse_feed
from bot.model import ParsedFeed
from tests.fakes.feed_server import FeedServer
from tests.support.corpus_feeds import (
    NEWS_DIR,
    case_path,
    feedparser_cases,
    news_index,
    news_path,
    serve_corpus,
)

# Real feeds where "every item has a title, a link and a date" cannot hold, and why.
NOT_FEEDS = {
    "orientaldaily-hk-2018-07-20-not-a-feed.xml": "proprietary XML, not RSS/Atom",
    "bloomberg-news-sitemap-2026-03-15-not-a-feed.xml": "a Google News sitemap, not a feed",
}


# Real feeds whose items cannot all come out dated, how many cannot, and why. Every
# other item of every other feed must have a date (feedparser's, or bot.feeds.dates for
# the Italian, Portuguese and US-long forms feedparser cannot read).
UNDATED = {
    "japantimes-latest-2017-01-08.xml": (118, "items carry no pubDate or dc:date at all"),
    "heise-newsticker-rss090-2018.xml": (60, "RSS 0.90 items have only title and link"),
    "finanzen-net-analysen-iso8859-1.xml": (15, "items carry no date element"),
    "cnn-topstories-2020-07-15.xml": (1, "one item (a video) has no pubDate"),
    "cnn-topstories-2020-08-16.xml": (2, "two items (videos) have no pubDate"),
}
# Real feeds with no items at all, so there is nothing to check but a clean parse.
NO_ITEMS = {"dailymail-worldnews-2017-01-07-nodecl.xml": "the channel was saved with no items"}


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
        serve_corpus(server)
        yield server


async def test_real_news_feeds_give_titles_links_and_dates(corpus_server: FeedServer) -> None:
    index = news_index()
    results = await fetch_and_parse(corpus_server, [news_path(str(e["file"])) for e in index])
    problems = []
    for entry in index:
        name = str(entry["file"])
        parsed = results[news_path(name)]
        assert isinstance(parsed, ParsedFeed), f"{name}: {parsed}"
        if name in NOT_FEEDS:
            assert parsed.items == () and parsed.problem, name
            continue
        expected = int(str(entry["entries"]))
        assert len(parsed.items) == min(expected, 500), name
        if name in NO_ITEMS:
            assert parsed.items == () and parsed.problem is None, name
            continue
        for item in parsed.items:
            if not item.title:
                problems.append(f"{name}: item without title")
            if not item.link:
                problems.append(f"{name}: item without link ({item.guid})")
        undated = sum(1 for i in parsed.items if i.published_at is None)
        assert undated == UNDATED.get(name, (0, ""))[0], f"{name}: {undated} undated items"
    assert problems == [], problems


def test_the_undated_feeds_really_have_no_item_dates() -> None:
    """UNDATED is a list of what the feeds lack, not of what the parser misses."""
    date_tags = re.compile(rb"<(pubDate|dc:date|published|updated|dcterms:\w+)\b")
    for name, (count, _) in UNDATED.items():
        body = (NEWS_DIR / name).read_bytes()
        items = re.findall(rb"<item\b.*?</item>", body, re.S)
        assert sum(1 for i in items if not date_tags.search(i)) == count, name


async def test_every_feedparser_case_fetches_and_parses_without_crashing(
        corpus_server: FeedServer) -> None:
    paths = [case_path(f) for f in feedparser_cases()]
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
