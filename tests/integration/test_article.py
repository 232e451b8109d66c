"""The optional full-text fetch against real HTTP on 127.0.0.1: extraction from realistic
pages (tests/data/articles), fallback on every kind of failure, and the cache."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.feeds import article
from bot.feeds.article import ArticleFetcher, ArticleSettings, article_limits
from bot.feeds.fetch import Fetcher, FetchLimits, FetchOutcome
from bot.summary import html_to_text, summarize
from tests.fakes.feed_server import Fault, FeedServer

PAGES = Path(__file__).resolve().parents[1] / "data" / "articles"
HTML = {"Content-Type": "text/html; charset=utf-8"}
PATH = "/business/2025/04/china-rare-earth-export-licences"
START = datetime(2025, 4, 14, 7, 0, tzinfo=UTC)

NEWS_LEAD = (
    "China's commerce ministry on Monday added seven heavy rare earth elements to the list "
    "of materials that need an export licence, a move that could slow shipments to carmakers "
    "and defence contractors in the United States weeks before a new round of tariff "
    "negotiations."
)
NEWS_LAST = "alongside the tariffs themselves."
ZH_LEAD = ("商务部、海关总署14日联合发布公告，"
           "决定对钐、钆、铽、镝、镥、钪、钇等七种中重稀土相关物项实施出口管制")
ES_QUESTION = "¿Hasta dónde puede llegar la escalada?"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class CountingFetcher(Fetcher):
    """A real Fetcher that also remembers what it was asked for (even URLs it refuses)."""

    def __init__(self, limits: FetchLimits) -> None:
        super().__init__(limits)
        self.urls: list[str] = []

    async def fetch(self, url: str, etag: str | None = None,
                    last_modified: str | None = None) -> FetchOutcome:
        self.urls.append(url)
        return await super().fetch(url, etag, last_modified)


ON = ArticleSettings(enabled=True, timeout=timedelta(seconds=0.5))

Make = Callable[..., tuple[ArticleFetcher, CountingFetcher]]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make(clock: Clock) -> AsyncIterator[Make]:
    made: list[tuple[ArticleFetcher, CountingFetcher]] = []

    def build(settings: ArticleSettings = ON,
              limits: FetchLimits | None = None) -> tuple[ArticleFetcher, CountingFetcher]:
        fetcher = CountingFetcher(limits or article_limits(settings))
        made.append((ArticleFetcher(fetcher, settings, clock), fetcher))
        return made[-1]

    yield build
    for articles, fetcher in made:
        await articles.aclose()
        await fetcher.aclose()


@pytest.fixture
def articles(make: Make) -> ArticleFetcher:
    return make()[0]


# --------------------------------------------------------------------------- extraction


async def test_news_article_main_text_without_nav_ads_or_comments(
        server: FeedServer, articles: ArticleFetcher) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    result = await articles.text_for(server.url(PATH))
    assert result is not None
    text = html_to_text(result)
    assert text.startswith(NEWS_LEAD)  # the headline is gone: the alert shows it already
    assert NEWS_LAST in text
    assert "Daniel Okafor" in text
    for junk in ("Business", "Subscribe for $1", "cookies", "Advertisement", "Refinance",
                 "ZeroFee", "Share on", "Photograph", "Related", "Lithium prices",
                 "Sign up for our free newsletter", "tradewatcher77", "refineries twenty years",
                 "Cancel my subscription", "recycled magnets", "Most read", "Luxury watches",
                 "All rights reserved", "China tightens rare earth export licences"):
        assert junk not in text, junk


@pytest.mark.parametrize(("encoding", "content_type"), [
    ("utf-8", "text/html; charset=utf-8"),
    ("gb18030", "text/html"),  # declared only in <meta>, as gb2312: decoded as its superset
    ("utf-8-sig", "text/html; charset=iso-8859-1"),  # a byte order mark beats the header
], ids=["utf-8", "gb2312-in-meta", "bom-over-wrong-header"])
async def test_chinese_text_survives(server: FeedServer, articles: ArticleFetcher,
                                     encoding: str, content_type: str) -> None:
    body = page("chinese_article.html")
    if encoding == "gb18030":
        body = body.decode().replace('charset="utf-8"', 'charset="gb2312"').encode(encoding)
    elif encoding == "utf-8-sig":
        body = body.decode().replace('<meta charset="utf-8">', "").encode(encoding)
    server.serve_bytes("/finance/2025/0414/article.shtml", body, {"Content-Type": content_type})
    result = await articles.text_for(server.url("/finance/2025/0414/article.shtml"))
    assert result is not None
    text = html_to_text(result)
    assert text.startswith(ZH_LEAD)
    assert "短期内其他国家难以形成替代供应。" in text
    for junk in ("首页", "下载客户端", "广告", "当前位置", "责任编辑", "分享到", "相关阅读",
                 "网友评论", "支持国家的决定", "新能源汽车的价格", "版权所有"):
        assert junk not in text, junk


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1"])
async def test_spanish_text_survives(server: FeedServer, articles: ArticleFetcher,
                                     charset: str) -> None:
    # iso-8859-1 as declared by old servers is really windows-1252 (the euro sign is 0x80).
    body = page("spanish_article.html").decode().replace('charset="utf-8"', "")
    server.serve_bytes("/economia/2025-04-11/aranceles.html",
                       body.encode("cp1252" if charset != "utf-8" else charset),
                       {"Content-Type": f"text/html; charset={charset}"})
    result = await articles.text_for(server.url("/economia/2025-04-11/aranceles.html"))
    assert result is not None
    text = html_to_text(result)
    assert text.startswith("China eleva sus gravámenes")  # the standfirst, not the headline
    assert ES_QUESTION in text
    assert "«ya no tienen aceptación en el mercado chino»" in text
    for junk in ("Publicidad", "Cancún", "BancoÑu", "50 €", "Suscríbete", "Compartir",
                 "pepe_madrid", "supermercado", "Todos los derechos reservados"):
        assert junk not in text, junk


async def test_markup_characters_in_the_text_reach_summarize_intact(
        server: FeedServer, articles: ArticleFetcher) -> None:
    body = page("news_article.html").replace(
        b"China's commerce ministry on Monday",
        b"With the S&amp;P 500 &lt; 5,000 and AT&amp;T &lt;down 3%&gt;, China's commerce "
        b"ministry on Monday")
    server.serve_bytes(PATH, body, HTML)
    result = await articles.text_for(server.url(PATH))
    assert result is not None
    assert summarize("", result).startswith(
        "With the S&P 500 < 5,000 and AT&T <down 3%>, China's commerce ministry")


async def test_a_long_article_is_kept_to_its_leading_paragraphs(
        server: FeedServer, articles: ArticleFetcher) -> None:
    filler = b"".join(b"<p>Paragraph %d of the analysis, which goes on about supply chains, "
                      b"refineries, magnets and the politics of tariffs for a long while "
                      b"before it comes to any conclusion at all.</p>" % n for n in range(200))
    body = page("news_article.html").replace(b"<p>The rule covers", filler + b"<p>The rule")
    server.serve_bytes(PATH, body, HTML)
    result = await articles.text_for(server.url(PATH))
    assert result is not None
    text = html_to_text(result)
    assert text.startswith(NEWS_LEAD)
    assert 7_000 < len(text) <= 8_000
    assert text.endswith("at all.")  # whole paragraphs only


async def test_summarize_on_the_result_gives_a_clean_lead(
        server: FeedServer, articles: ArticleFetcher) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    server.serve_bytes("/zh.shtml", page("chinese_article.html"), HTML)
    news = await articles.text_for(server.url(PATH))
    chinese = await articles.text_for(server.url("/zh.shtml"))
    assert news is not None and chinese is not None
    # The first sentence fills most of the budget: the lead is that sentence, whole.
    assert summarize("", news, max_chars=300) == NEWS_LEAD
    # A label-like feed description loses to the article text.
    assert summarize("Reuters", news, max_chars=300) == NEWS_LEAD
    zh = summarize("", chinese, max_chars=120)
    assert zh.startswith(ZH_LEAD) and zh.endswith("。")
    assert "<" not in zh and "&" not in zh


# --------------------------------------------------------------------------- fallback


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/article.html"


FAILURES: dict[str, Callable[[FeedServer], None]] = {
    "http-500": lambda s: s.set_fault(PATH, Fault.http_status(500)),
    "http-404": lambda s: s.remove(PATH),
    "http-403-bot-wall": lambda s: s.set_fault(PATH, Fault.http_status(403)),
    "slow-headers": lambda s: s.set_fault(PATH, Fault.slow_headers(3)),
    "slow-body": lambda s: s.set_fault(PATH, Fault.slow_body(chunk_size=16, interval=0.2)),
    "oversized": lambda s: s.set_fault(PATH, Fault.oversized(3)),
    "oversized-no-length": lambda s: s.set_fault(PATH, Fault.oversized(3, content_length=False)),
    "gzip-bomb": lambda s: s.set_fault(PATH, Fault.gzip_bomb(64 << 20)),
    "connection-reset": lambda s: s.set_fault(PATH, Fault.reset()),
    "redirect-loop": lambda s: s.set_fault(PATH, Fault.redirect_loop()),
    "bot-check-page": lambda s: s.set_fault(PATH, Fault.html_page()),
    "pdf": lambda s: s.serve_bytes(PATH, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
                                   {"Content-Type": "application/pdf"}),
    "json": lambda s: s.serve_bytes(PATH, b'{"headline": "China tightens rare earth"}',
                                    {"Content-Type": "application/json"}),
    "feed-not-page": lambda s: s.set_fault(PATH, Fault.invalid_xml()),
    "empty-page": lambda s: s.serve_bytes(PATH, b"", HTML),
    "scripts-only": lambda s: s.serve_bytes(
        PATH, b"<!doctype html><html><head><script>render()</script></head>"
              b"<body><div id=app></div></body></html>", HTML),
    "paywall-teaser": lambda s: s.serve_bytes(PATH, page("paywall_teaser.html"), HTML),
    "section-front": lambda s: s.serve_bytes(PATH, page("section_front.html"), HTML),
    "section-front-without-og-type": lambda s: s.serve_bytes(
        PATH, page("section_front.html").replace(b'content="website"', b'content=""'), HTML),
}


@pytest.mark.parametrize("kind", list(FAILURES))
async def test_every_failure_falls_back_to_the_feed_text(
        server: FeedServer, make: Make, kind: str) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    FAILURES[kind](server)
    articles, fetcher = make()
    started = time.monotonic()
    assert await articles.text_for(server.url(PATH)) is None
    assert time.monotonic() - started < 2.5
    assert fetcher.urls == [server.url(PATH)]


async def test_refused_connection_falls_back(make: Make) -> None:
    articles, fetcher = make()
    url = closed_port_url()
    assert await articles.text_for(url) is None
    assert fetcher.urls == [url]


async def test_own_ceilings_hold_whatever_fetcher_is_given(server: FeedServer,
                                                           make: Make) -> None:
    """With the feeds' roomier Fetcher, the article timeout and size cap still apply."""
    settings = ArticleSettings(enabled=True, timeout=timedelta(seconds=0.2), max_bytes=100_000)
    articles, _ = make(settings, FetchLimits(timeout=timedelta(seconds=5)))
    big = page("news_article.html").replace(b"</body>", b"<!--" + b"x" * 200_000 + b"--></body>")
    server.serve_bytes("/big.html", big, HTML)
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    server.set_fault(PATH, Fault.slow_headers(3))
    started = time.monotonic()
    assert await articles.text_for(server.url(PATH)) is None
    assert time.monotonic() - started < 1.5
    assert await articles.text_for(server.url("/big.html")) is None


@pytest.mark.parametrize("outcome", ["raises", "returns-nothing"])
async def test_extractor_failure_falls_back(server: FeedServer, articles: ArticleFetcher,
                                            monkeypatch: pytest.MonkeyPatch, outcome: str,
                                            caplog: pytest.LogCaptureFixture) -> None:
    def broken(markup: str | bytes) -> str | None:
        if outcome == "raises":
            raise RuntimeError("lxml exploded")
        return None

    monkeypatch.setattr(article, "_main_text", broken)
    caplog.set_level(logging.INFO, logger="bot.feeds.article")
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    assert await articles.text_for(server.url(PATH)) is None
    assert "using the feed text" in caplog.text


async def test_article_no_longer_than_the_feed_text_is_not_used(
        server: FeedServer, articles: ArticleFetcher) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    url = server.url(PATH)
    long_feed = "<p>" + "A full feed text, longer than the page. " * 60 + "</p>"
    assert await articles.text_for(url, feed_html=long_feed) is None
    assert await articles.text_for(url, feed_html="<p>Beijing adds rare earths.</p>")
    assert server.request_count(PATH) == 1  # the comparison is per call; the page is cached


# --------------------------------------------------------------------------- requests, cache


@pytest.mark.parametrize("url", [
    None, "", "ftp://example.org/a.html", "file:///etc/passwd", "javascript:alert(1)",
    "mailto:desk@example.org", "/relative/path.html", "https://",
    "https://news.google.com/rss/articles/CBMiWkFVX3lxTE1?oc=5",
], ids=["none", "empty", "ftp", "file", "javascript", "mailto", "relative", "no-host",
        "google-news-redirect"])
async def test_unfetchable_url_gives_none_without_a_request(make: Make, url: str | None) -> None:
    articles, fetcher = make()
    assert await articles.text_for(url) is None
    assert fetcher.urls == []


async def test_disabled_makes_no_request(server: FeedServer, make: Make) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    articles, fetcher = make(ArticleSettings())
    assert await articles.text_for(server.url(PATH)) is None
    assert fetcher.urls == []
    assert server.request_count(PATH) == 0


async def test_cache_answers_the_same_article_from_any_feed(
        server: FeedServer, articles: ArticleFetcher) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    first = await articles.text_for(server.url(PATH))
    # Another feed links the same article with tracking parameters and a fragment.
    again = await articles.text_for(server.url(PATH) + "?utm_source=rss&utm_medium=feed#top")
    assert first is not None and again == first
    assert server.request_count(PATH) == 1


async def test_concurrent_callers_share_one_request(server: FeedServer,
                                                    articles: ArticleFetcher) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    server.set_fault(PATH, Fault.slow_headers(0.2))
    results = await asyncio.gather(*(articles.text_for(server.url(PATH) + f"?utm_campaign={n}")
                                     for n in range(5)))
    assert results[0] is not None and len(set(results)) == 1
    assert server.request_count(PATH) == 1


async def test_a_cancelled_caller_does_not_cancel_the_others(
        server: FeedServer, articles: ArticleFetcher) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    server.set_fault(PATH, Fault.slow_headers(0.2))
    impatient = asyncio.create_task(articles.text_for(server.url(PATH)))
    patient = asyncio.create_task(articles.text_for(server.url(PATH)))
    await asyncio.sleep(0.05)
    impatient.cancel()
    assert await patient is not None
    assert impatient.cancelled()


async def test_failure_is_cached_for_its_ttl_then_retried(
        server: FeedServer, articles: ArticleFetcher, clock: Clock) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    server.set_fault(PATH, Fault.http_status(503))
    url = server.url(PATH)
    assert await articles.text_for(url) is None
    server.set_fault(PATH, None)  # the site recovers, but we don't ask again yet
    clock.advance(timedelta(minutes=29))
    assert await articles.text_for(url) is None
    assert server.request_count(PATH) == 1
    clock.advance(timedelta(minutes=1, seconds=1))
    assert await articles.text_for(url) is not None
    assert server.request_count(PATH) == 2


async def test_text_is_cached_for_its_ttl(server: FeedServer, articles: ArticleFetcher,
                                          clock: Clock) -> None:
    server.serve_bytes(PATH, page("news_article.html"), HTML)
    url = server.url(PATH)
    assert await articles.text_for(url) is not None
    clock.advance(timedelta(hours=23, minutes=59))
    assert await articles.text_for(url) is not None
    assert server.request_count(PATH) == 1
    clock.advance(timedelta(minutes=2))
    assert await articles.text_for(url) is not None
    assert server.request_count(PATH) == 2


async def test_cache_is_bounded_least_recently_used_first(server: FeedServer,
                                                          make: Make) -> None:
    articles, _ = make(ArticleSettings(enabled=True, cache_size=2))
    for name in ("a", "b", "c"):
        server.serve_bytes(f"/{name}.html", page("news_article.html"), HTML)

    async def read(name: str) -> None:
        assert await articles.text_for(server.url(f"/{name}.html")) is not None

    await read("a")
    await read("b")
    await read("a")  # a is now the most recently used
    await read("c")  # evicts b
    await read("a")
    assert server.request_count("/a.html") == 1
    await read("b")
    assert server.request_count("/b.html") == 2
