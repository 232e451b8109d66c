"""The parser on hand-made documents: the edge cases the corpus does not pin down."""

from datetime import UTC, datetime

import pytest

from bot.feeds.parse import parse_feed


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
    <item><title>A</title><link>/news/a.html</link><guid>a</guid></item></channel></rss>"""
    feed = parse_feed(body, "https://example.org/feeds/rss.xml")
    assert feed.items[0].link == "https://example.org/news/a.html"


def test_undated_and_html_titles() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
    <entry><title type="html">&lt;b&gt;Bold&lt;/b&gt; &amp;amp; more</title><id>x</id>
    <link href="https://example.org/x"/></entry></feed>"""
    [item] = parse_feed(body, "https://example.org/atom").items
    assert item.title == "Bold & more"
    assert item.published_at is None


def test_not_a_feed_and_garbage() -> None:
    assert parse_feed(b"<html><body>hi</body></html>", "https://e.org").problem
    assert parse_feed(b"\x00\xff" * 100, "https://e.org").items == ()
    assert parse_feed(b"", "https://e.org").items == ()


def test_dates_are_aware_utc_and_fields_are_bounded() -> None:
    long_title = "x" * 5000
    body = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><ttl>15</ttl>
    <item><title>{long_title}</title><link>https://e.org/1</link>
    <pubDate>Fri, 27 Nov 2026 10:00:00 +0100</pubDate></item></channel></rss>""".encode()
    feed = parse_feed(body, "https://e.org/rss")
    assert feed.ttl_minutes == 15
    [item] = feed.items
    assert item.published_at == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert len(item.title) == 1000


def test_a_huge_ttl_is_no_hint_and_no_crash() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><ttl>99999999999999999999</ttl>'
            b"<item><title>a</title></item></channel></rss>")
    parsed = parse_feed(body, "http://127.0.0.1/feed.xml", "application/rss+xml")
    assert parsed.ttl_minutes is None and len(parsed.items) == 1


def test_one_unreadable_item_costs_that_item_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Untrusted entries meet library code; should any one of them raise, the others
    still come out and the document says what was left out."""
    from bot.feeds import parse as parse_module

    real = parse_module.parse_loose_date

    def fragile(text: str | None) -> object:
        if text == "poison":
            raise OverflowError("date value out of range")
        return real(text)

    monkeypatch.setattr(parse_module, "parse_loose_date", fragile)
    body = (b'<rss version="2.0"><channel><title>t</title>'
            b"<item><title>a</title><pubDate>poison</pubDate></item>"
            b"<item><title>b</title></item></channel></rss>")
    parsed = parse_feed(body, "http://127.0.0.1/feed.xml", "application/rss+xml")
    assert [i.title for i in parsed.items] == ["b"]
    assert parsed.problem == "1 unreadable item(s) left out" and not parsed.broken


def test_a_parser_crash_is_a_broken_document(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.feeds import parse as parse_module

    def crash(*_: object, **__: object) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(parse_module.feedparser, "parse", crash)
    parsed = parse_feed(b"<rss/>", "http://127.0.0.1/feed.xml", "application/rss+xml")
    assert parsed.broken and parsed.problem == "parser crashed: RecursionError"
