"""The parser on hand-made documents: the edge cases the corpus does not pin down."""

from datetime import UTC, datetime

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
