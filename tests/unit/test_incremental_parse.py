"""Incremental parsing (bot/feeds/incremental.py): items whose bytes were in the feed's
last parsed version are cut out before feedparser runs, and what is parsed of the rest
is exactly what a whole parse gives for those items."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.feeds.incremental import (
    SeenItems,
    SeenItemsMemory,
    item_layout,
    parse_incrementally,
    without_items,
)
from bot.feeds.parse import parse_feed
from bot.model import ParsedFeed
from tests.support.corpus import CORPUS_DIR

URL = "https://news.example.com/feed.xml"


def rss(items: list[str], *, build_date: str = "Fri, 27 Nov 2026 06:00:00 +0000",
        channel_attrs: str = "", xmlns: str = "") -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>/{t.replace(' ', '-')}</link>"
        f"<guid isPermaLink=\"false\">{t}</guid>"
        f"<pubDate>Fri, 27 Nov 2026 05:00:00 +0000</pubDate>"
        f"<description>&lt;p&gt;About {t}.&lt;/p&gt;</description></item>\n" for t in items)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"{xmlns}>'
            f"<channel{channel_attrs}><title>Example</title><link>https://news.example.com/</link>"
            f"<lastBuildDate>{build_date}</lastBuildDate><ttl>15</ttl>\n{body}"
            "</channel></rss>").encode()


class CountingParser:
    """parse_feed, recording the documents it was given."""

    def __init__(self) -> None:
        self.documents: list[bytes] = []

    def __call__(self, body: bytes, url: str, content_type: str | None) -> ParsedFeed:
        self.documents.append(body)
        return parse_feed(body, url, content_type)


def first_sight(body: bytes) -> SeenItems:
    result = parse_incrementally(body, URL, "application/rss+xml", None, parse_feed)
    assert result.seen is not None
    return result.seen


def test_only_new_items_are_parsed_and_match_a_whole_parse() -> None:
    old = rss(["tariff talks", "rare earth quota", "visa rules"])
    seen = first_sight(old)
    new = rss(["export controls widen", "tariff talks", "rare earth quota", "visa rules"],
              build_date="Fri, 27 Nov 2026 07:00:00 +0000")
    parser = CountingParser()
    result = parse_incrementally(new, URL, "application/rss+xml", seen, parser)
    assert result.items_skipped == 3
    assert b"tariff talks" not in parser.documents[0]
    assert [i.title for i in result.parsed.items] == ["export controls widen"]
    whole = parse_feed(new, URL, "application/rss+xml")
    assert result.parsed.items[0] == whole.items[0]  # link resolved against the same base
    assert result.parsed.items[0].link == "https://news.example.com/export-controls-widen"
    assert result.parsed.ttl_minutes == whole.ttl_minutes == 15
    assert result.parsed.title == whole.title
    # What is remembered now covers all four items, so the next version skips them too.
    assert result.seen is not None and len(result.seen.digests()) == 4


def test_an_edited_item_is_parsed_again() -> None:
    seen = first_sight(rss(["tariff talks", "visa rules"]))
    edited = rss(["tariff talks resume", "visa rules"])
    result = parse_incrementally(edited, URL, "application/rss+xml", seen, parse_feed)
    assert [i.title for i in result.parsed.items] == ["tariff talks resume"]


def test_nothing_new_still_reads_the_channel() -> None:
    body = rss(["tariff talks", "visa rules"])
    seen = first_sight(body)
    parser = CountingParser()
    result = parse_incrementally(rss(["tariff talks", "visa rules"], build_date="Sat, 28 Nov "
                                     "2026 06:00:00 +0000"), URL, "application/rss+xml", seen,
                                 parser)
    assert result.parsed.items == ()
    assert result.parsed.problem is None and result.parsed.ttl_minutes == 15
    assert result.items_skipped == 2


@pytest.mark.parametrize(("change", "kwargs"), [
    ("another address", {"url": "https://elsewhere.example.com/feed.xml"}),
    ("another content type", {"content_type": "text/xml; charset=iso-8859-1"}),
    ("xml:base on the channel", {"channel_attrs": ' xml:base="https://cdn.example.com/"'}),
    ("a namespace declaration", {"xmlns": ' xmlns:dc="http://purl.org/dc/elements/1.1/"'}),
])
def test_a_changed_context_parses_everything(change: str, kwargs: dict[str, str]) -> None:
    seen = first_sight(rss(["tariff talks", "visa rules"]))
    url = kwargs.pop("url", URL)
    content_type = kwargs.pop("content_type", "application/rss+xml")
    body = rss(["tariff talks", "visa rules"], **kwargs)
    parser = CountingParser()
    result = parse_incrementally(body, url, content_type, seen, parser)
    assert parser.documents == [body], change
    assert len(result.parsed.items) == 2 and result.items_skipped == 0


@pytest.mark.parametrize(("why", "body"), [
    ("nested items", b"<rss><channel><item><item>x</item></item></channel></rss>"),
    ("an end tag in CDATA", b"<rss><channel><item><description><![CDATA[</item>]]>"
     b"</description></item></channel></rss>"),
    ("a start tag in a comment", b"<rss><channel><!-- <item> --><item><title>a</title></item>"
     b"</channel></rss>"),
    ("a self-closed item", b"<rss><channel><item/><item><title>a</title></item></channel></rss>"),
    ("a DOCTYPE with entities", b'<!DOCTYPE rss [<!ENTITY x "y">]><rss><channel><item>'
     b"<title>&x;</title></item></channel></rss>"),
    ("UTF-16", "<rss><channel><item><title>a</title></item></channel></rss>".encode("utf-16")),
    ("no items", b"<rss><channel><title>empty</title></channel></rss>"),
    ("an unclosed item", b"<rss><channel><item><title>a</title></channel></rss>"),
])
def test_documents_that_cannot_be_cut_safely(why: str, body: bytes) -> None:
    assert item_layout(body, URL, None) is None, why


def test_atom_entries_are_cut_too() -> None:
    def atom(titles: list[str]) -> bytes:
        entries = "".join(f"<entry><id>urn:{t}</id><title>{t}</title>"
                          f"<updated>2026-11-27T05:00:00Z</updated>"
                          f'<link href="/{t}"/></entry>' for t in titles)
        return ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
                f'xml:base="https://atom.example.com/"><title>A</title>{entries}</feed>').encode()
    seen = first_sight(atom(["one", "two"]))
    result = parse_incrementally(atom(["three", "one", "two"]), URL, "application/rss+xml",
                                 seen, parse_feed)
    assert [(i.title, i.link) for i in result.parsed.items] == [
        ("three", "https://atom.example.com/three")]
    assert result.items_skipped == 2


def test_a_document_with_problems_is_not_remembered() -> None:
    broken = rss(["tariff talks"]).replace(b"</channel>", b"")  # not well-formed
    result = parse_incrementally(broken, URL, None, None, parse_feed)
    assert result.parsed.problem is not None and result.parsed.lenient
    assert result.seen is None


def test_memory_forgets_removed_feeds_and_failed_versions() -> None:
    memory = SeenItemsMemory()
    memory.remember("a", first_sight(rss(["x"])))
    memory.remember("b", first_sight(rss(["y"])))
    memory.forget_all_but({"b"})
    assert memory.get("a") is None and memory.get("b") is not None
    memory.remember("b", None)
    assert len(memory) == 0


def _corpus_files() -> list[Path]:
    return sorted((CORPUS_DIR / "news-feeds").glob("*.xml"))


def test_on_real_feeds_a_cut_parse_gives_what_a_whole_parse_gives() -> None:
    """For every corpus news feed that can be cut: pretend the last version lacked its first
    two items; the incremental parse must return exactly the whole parse's first two items."""
    compared = 0
    for path in _corpus_files():
        body = path.read_bytes()
        layout = item_layout(body, URL, None)
        if layout is None or len(layout.spans) < 4:
            continue
        whole = parse_feed(body, URL, None)
        if whole.lenient or len(whole.items) != len(layout.spans):
            continue
        previous = without_items(body, layout, frozenset(layout.digests[:2]))
        last = parse_incrementally(previous, URL, None, None, parse_feed).seen
        if last is None:
            continue
        result = parse_incrementally(body, URL, None, last, parse_feed)
        assert result.items_skipped == len(layout.spans) - 2, path.name
        assert result.parsed.items == whole.items[:2], path.name
        assert (result.parsed.ttl_minutes, result.parsed.update_period) == (
            whole.ttl_minutes, whole.update_period), path.name
        compared += 1
    assert compared >= 30  # most real feeds take the fast path
