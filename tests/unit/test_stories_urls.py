"""Canonical URLs, redirect unwrapping and item keys: a table of real-world shapes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.stories import canonical_url, item_key, resolve_source_url, text_identity, url_identity
from bot.stories.keys import MAX_KEY_LENGTH

# (id, input, expected canonical form)
CANONICAL = [
    ("scheme-host-case-default-port-fragment",
     "HTTPS://WWW.Example.COM:443/a/b/?utm_source=rss&b=2&a=1#frag",
     "https://www.example.com/a/b?a=1&b=2"),
    ("http-default-port-root", "http://example.com:80/", "http://example.com/"),
    ("non-default-port-kept", "http://example.com:8080/x", "http://example.com:8080/x"),
    ("trailing-dot-host-empty-path", "HTTP://Example.COM.", "http://example.com/"),
    ("user-info-dropped", "https://user:pw@example.com/x", "https://example.com/x"),
    ("bbc-amp-path-segment", "https://www.bbc.co.uk/news/amp/world-12345",
     "https://www.bbc.co.uk/news/world-12345"),
    ("guardian-amp-host", "https://amp.theguardian.com/world/2020/jul/14/uk-huawei-ban",
     "https://www.theguardian.com/world/2020/jul/14/uk-huawei-ban"),
    ("bbc-mobile-host", "https://m.bbc.co.uk/news/technology-53412678",
     "https://www.bbc.co.uk/news/technology-53412678"),
    ("reuters-mobile-host-feed-params",
     "https://mobile.reuters.com/article/us-china-trade-idUSKBN1234?feedType=RSS&feedName=topNews",
     "https://www.reuters.com/article/us-china-trade-idUSKBN1234"),
    ("dailymail-rss-params",
     "https://www.dailymail.co.uk/news/article-8521379/Government-announces.html"
     "?ns_mchannel=rss&ito=1490&ns_campaign=1490",
     "https://www.dailymail.co.uk/news/article-8521379/Government-announces.html"),
    ("cnn-utm-params",
     "https://www.cnn.com/2020/07/14/tech/huawei-uk-ban/index.html?utm_term=link"
     "&utm_content=2020-07-14T17%3A12%3A54&utm_medium=social&utm_source=twCNN",
     "https://www.cnn.com/2020/07/14/tech/huawei-uk-ban/index.html"),
    ("google-amp-viewer", "https://www.google.com/amp/s/www.cnbc.com/amp/2019/07/23/trade-war.html",
     "https://www.cnbc.com/2019/07/23/trade-war.html"),
    ("amp-cache",
     "https://www-cnbc-com.cdn.ampproject.org/c/s/www.cnbc.com/amp/2019/07/23/trade-war.html",
     "https://www.cnbc.com/2019/07/23/trade-war.html"),
    ("msn-ocid-cvid", "https://www.msn.com/en-us/news/world/x/ar-AA1?ocid=msedgntp&cvid=abc",
     "https://www.msn.com/en-us/news/world/x/ar-AA1"),
    ("percent-encoding-normalised", "https://example.com/a%7eb/%41%42c/caf%c3%a9/%e2%80%99",
     "https://example.com/a~b/ABc/caf%C3%A9/%E2%80%99"),
    ("non-ascii-and-space-encoded", "https://example.com/café story",
     "https://example.com/caf%C3%A9%20story"),
    ("dot-segments", "https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("github-ref-kept", "https://github.com/o/r/blob/x?ref=main",
     "https://github.com/o/r/blob/x?ref=main"),
    ("news-ref-dropped", "https://www.politico.com/news/2025/x?ref=hp&ref_src=twsrc",
     "https://www.politico.com/news/2025/x"),
    ("independent-bare-amp-param", "https://www.independent.co.uk/news/x-b123.html?amp",
     "https://www.independent.co.uk/news/x-b123.html"),
    ("nytimes-share-params",
     "https://www.nytimes.com/2025/04/09/business/tariffs.html?smid=nytcore-ios-share"
     "&referringSource=articleShare",
     "https://www.nytimes.com/2025/04/09/business/tariffs.html"),
    ("washingtonpost-output-type-amp",
     "https://www.washingtonpost.com/business/2025/04/09/x/?outputType=amp",
     "https://www.washingtonpost.com/business/2025/04/09/x"),
    ("other-output-type-kept", "https://example.com/x?outputType=xml",
     "https://example.com/x?outputType=xml"),
    ("amp-html-suffix", "https://www.theverge.com/2025/x.amp.html",
     "https://www.theverge.com/2025/x.html"),
    ("ft-fbclid", "https://www.ft.com/content/abc?shareType=nongift&fbclid=IwAR0",
     "https://www.ft.com/content/abc?shareType=nongift"),
    ("gclid-mc-params", "https://example.com/p?gclid=1&mc_cid=2&mc_eid=3&id=7",
     "https://example.com/p?id=7"),
    ("igshid-cmpid", "https://example.com/p?igshid=abc&cmpid=x", "https://example.com/p"),
    ("article-id-param-kept", "https://www.example.com/article.php?id=123&page=2",
     "https://www.example.com/article.php?id=123&page=2"),
    ("plus-in-query-becomes-%20", "https://example.com/s?q=trade+war",
     "https://example.com/s?q=trade%20war"),
    ("blank-value-kept", "https://example.com/s?flag", "https://example.com/s?flag"),
    ("protocol-relative", "//www.example.com/a", "https://www.example.com/a"),
    ("m-dot-com-not-folded", "https://m.com/a", "https://m.com/a"),
    ("surrounding-space", "  https://example.com/a  ", "https://example.com/a"),
]  # fmt: skip

BEST_EFFORT = [
    ("not-a-url", "not a url", "not a url"),
    ("empty", "", ""),
    ("broken-ipv6", "https://[::1", "https://[::1"),
    ("mailto", "mailto:x@y.z", "mailto:x@y.z"),
    ("tag-uri", "tag:example.com,2020:1", "tag:example.com,2020:1"),
]


@pytest.mark.parametrize(
    ("url", "expected"), [c[1:] for c in CANONICAL], ids=[c[0] for c in CANONICAL]
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"), [c[1:] for c in CANONICAL], ids=[c[0] for c in CANONICAL]
)
def test_canonical_url_is_idempotent(url: str, expected: str) -> None:
    assert canonical_url(expected) == expected


@pytest.mark.parametrize(
    ("url", "expected"), [c[1:] for c in BEST_EFFORT], ids=[c[0] for c in BEST_EFFORT]
)
def test_bad_input_comes_back_as_best_effort(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_url_identity_ignores_scheme_and_www() -> None:
    assert url_identity("http://www.reuters.com/x/") == url_identity("https://reuters.com/x")
    assert url_identity("https://m.reuters.com/x?utm_medium=rss") == "reuters.com/x"


GOOGLE_OLD = (
    "https://news.google.com/__i/rss/rd/articles/CBMiWWh0dHBzOi8vd3d3LmNubi5jb20vMjAyMi8wNy8y"
    "Ny9wb2xpdGljcy9zY2h1bWVyLW1hbmNoaW4tZGVhbC1idWlsZC1iYWNrLWJldHRlci9pbmRleC5odG1s0gFdaHR0"
    "cHM6Ly9hbXAuY25uLmNvbS9jbm4vMjAyMi8wNy8yNy9wb2xpdGljcy9zY2h1bWVyLW1hbmNoaW4tZGVhbC1idWls"
    "ZC1iYWNrLWJldHRlci9pbmRleC5odG1s?oc=5"
)
GOOGLE_NEW = (
    "https://news.google.com/rss/articles/CBMi4gFBVV95cUxNLXhGZnp2dmlvd2YyWC1qQVFVQm54M3pmN0pP"
    "ZUVNRDJvSUR2cW1yMmFKdVQ1dXdDenFuM0tVT1BYM1FFQnVCY0Y3b0RpYTlpT2JISnZYTkYwNDRJWDByQi13WFM0"
    "TzFTSmpHUk9mRXhLSGNsenFkUEdVWWFidjUzR0FIOWJTRjF1YVQyWnhTMG9kZmN3SVJ4MzRyd3BJbFRQaG0wRTk1"
    "RW9oRTMxRHdVVXhpalNmSGlLdUN?oc=5"
)

RESOLVE = [
    ("google-news-embedded-url", GOOGLE_OLD, "https://www.cnn.com",
     "https://www.cnn.com/2022/07/27/politics/schumer-manchin-deal-build-back-better/index.html"),
    ("google-news-short-id",
     "https://news.google.com/rss/articles/CBMiN2h0dHBzOi8vd3d3LmFzYWhpLmNvbS9hcnRpY2xlcy9BU1My"
     "NTZIR1ZTMjRVVElMMDBYLmh0bWzSAQA?oc=5", None,
     "https://www.asahi.com/articles/ASS256HGVS24UTIL00X.html"),
    ("google-news-opaque-home-page-source", GOOGLE_NEW, "https://www.reuters.com", GOOGLE_NEW),
    ("google-news-opaque-article-source", GOOGLE_NEW,
     "https://www.reuters.com/markets/x-2026-03-13/", "https://www.reuters.com/markets/x-2026-03-13/"),
    ("google-alerts-url-param",
     "https://www.google.com/url?rct=j&sa=t&url=https://investorplace.com/2019/07/slack-stock/"
     "&ct=ga&cd=CAI&usg=AFQ", None, "https://investorplace.com/2019/07/slack-stock/"),
    ("bing-news-apiclick",
     "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=12BE&url=https%3a%2f%2fwww."
     "dailymail.co.uk%2fsport%2farticle-9554407%2fx.html&c=44&mkt=it-it", None,
     "https://www.dailymail.co.uk/sport/article-9554407/x.html"),
    ("plain-link-untouched", "https://www.bbc.co.uk/news/x", "https://www.bbc.co.uk",
     "https://www.bbc.co.uk/news/x"),
    ("no-link-uses-source", None, "https://www.reuters.com/a", "https://www.reuters.com/a"),
    ("nothing", None, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("link", "source", "expected"), [r[1:] for r in RESOLVE], ids=[r[0] for r in RESOLVE]
)
def test_resolve_source_url(link: str | None, source: str | None, expected: str | None) -> None:
    assert resolve_source_url(link, source) == expected


KEYS = [
    ("opaque-guid", "tag:example.com,2020:1", "https://x.com/a", "guid:tag:example.com,2020:1"),
    ("permalink-guid-keyed-as-url", "https://www.reuters.com/world/x?utm_source=rss", None,
     "url:reuters.com/world/x"),
    ("home-page-guid-falls-back-to-link", "https://www.reuters.com/",
     "https://www.reuters.com/world/x?utm_source=a", "url:reuters.com/world/x"),
    ("placeholder-guid", "null", "http://m.example.com/a/", "url:example.com/a"),
    ("blank-guid", "  ", "https://example.com/b", "url:example.com/b"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("guid", "link", "expected"), [k[1:] for k in KEYS], ids=[k[0] for k in KEYS]
)
def test_item_key(guid: str | None, link: str | None, expected: str) -> None:
    assert item_key(guid, link, "Title", "Summary") == expected


def test_item_key_same_article_from_two_feeds() -> None:
    a = item_key(None, "https://amp.theguardian.com/world/x?CMP=share_btn_tw", "A", "")
    b = item_key(None, "http://www.theguardian.com/world/x/", "A (updated)", "changed")
    assert a == b


def test_item_key_hash_is_stable_over_whitespace_and_case() -> None:
    a = item_key(None, None, "China  raises tariffs", "Beijing said ...")
    b = item_key("", "https://example.com/", "china raises TARIFFS", " Beijing   said ...")
    assert a == b
    assert a.startswith("hash:")
    assert len(a) == len("hash:") + 64


def test_item_key_is_bounded() -> None:
    assert len(item_key("x" * 5000, None, "", "")) <= MAX_KEY_LENGTH
    long_url = "https://example.com/" + "a/" * 3000
    key = item_key(None, long_url, "", "")
    assert key.startswith("url:sha256:")
    assert len(key) <= MAX_KEY_LENGTH


def _google_news_id(url: str) -> str:
    # The older Google News article id: base64 of 0x08 0x13 0x22 <varint length> <url>.
    raw = url.encode()
    length = len(raw)
    varint = bytes([length]) if length < 128 else bytes([(length & 0x7F) | 0x80, length >> 7])
    return base64.urlsafe_b64encode(b"\x08\x13\x22" + varint + raw).decode().rstrip("=")


@pytest.mark.parametrize("length", [30, 127, 128, 300])
def test_google_news_ids_of_any_length(length: int) -> None:
    url = "https://www.example.com/" + "a" * (length - len("https://www.example.com/"))
    link = f"https://news.google.com/rss/articles/{_google_news_id(url)}?oc=5"
    assert resolve_source_url(link, "https://www.example.com") == url


@given(st.text(max_size=200))
def test_canonical_url_never_raises(text: str) -> None:
    assert isinstance(canonical_url(text), str)
    assert isinstance(url_identity(text), str)
    assert len(item_key(text, text, text, text)) <= MAX_KEY_LENGTH


@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z]{1,10}\.(com|org|co\.uk)", fullmatch=True),
    st.lists(st.from_regex(r"[A-Za-z0-9._~%-]{1,8}", fullmatch=True), max_size=4),
    st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.text(max_size=6), max_size=3),
)
def test_canonical_url_is_idempotent_on_generated_urls(
    scheme: str, host: str, segments: list[str], params: dict[str, str]
) -> None:
    url = f"{scheme}://{host}/{'/'.join(segments)}?{urlencode(params)}"
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_text_identity_is_one_feed_one_date_one_text() -> None:
    when = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    one = text_identity("https://a.example/rss", "Flood warning", "River  Severn", when)
    assert one.startswith("text:")
    assert one == text_identity("https://a.example/rss", "FLOOD WARNING", "River Severn", when)
    assert one != text_identity("https://b.example/rss", "Flood warning", "River Severn", when)
    assert one != text_identity("https://a.example/rss", "Flood warning", "River Severn",
                                when + timedelta(days=7))
    assert one != text_identity("https://a.example/rss", "Flood warning", "River Severn", None)
