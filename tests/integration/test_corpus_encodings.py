"""Encodings end to end: each of feedparser's encoding cases, served over HTTP on
127.0.0.1 with its `Header:` lines as real response headers, fetched by the Fetcher
and handed to feedparser the way `parse_feed` hands it (body bytes, Content-Type,
final URL), meets the case's own `Expect:` oracle. This is where the HTTP charset,
the XML declaration and a byte order mark meet: a Fetcher that decoded, re-encoded or
dropped a header would fail here."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest

from bot.feeds.fetch import Fetched, Fetcher, FetchLimits
from bot.feeds.parse import parse_feed, response_headers
from tests.fakes.feed_server import FeedServer, read_feedparser_case

ENCODING_CASES = Path(__file__).resolve().parents[3] / "shared" / "corpus" / \
    "feedparser-tests" / "encoding"
# feedparser's own harness serves a case without `Header:` lines as a static .xml file,
# with the Content-Type a web server gives one; its oracles assume that.
STATIC_XML = (("Content-Type", "application/xml"),)
_EXPECT = re.compile(r"Expect:\s*(.+)")


def oracle(file: Path, encoding: str) -> str:
    """The `Expect:` line; a UTF-16/32 file's comment is read in the file's encoding."""
    case = read_feedparser_case(file)
    if case.expect:
        return case.expect
    text = file.read_bytes().decode(encoding, errors="replace")
    found = _EXPECT.search(text)
    assert found, f"{file.name}: no Expect line"
    return found.group(1).strip()


async def test_every_encoding_case_meets_its_oracle_through_http() -> None:
    files = sorted(ENCODING_CASES.glob("*.xml"))
    assert len(files) >= 80
    with FeedServer() as server:
        for file in files:
            headers = read_feedparser_case(file).headers or STATIC_XML
            server.serve_bytes(f"/{file.name}", file.read_bytes(), headers)
        async with Fetcher(FetchLimits(timeout=timedelta(seconds=5), max_concurrency=8,
                                       per_host=8)) as fetcher:
            fetched = await asyncio.gather(*(fetcher.fetch(server.url(f"/{f.name}"))
                                             for f in files))
    failures = []
    for file, outcome in zip(files, fetched, strict=True):
        assert isinstance(outcome, Fetched), f"{file.name}: {outcome}"
        assert outcome.body == file.read_bytes(), file.name  # bytes untouched
        result = feedparser.parse(outcome.body, response_headers=response_headers(
            outcome.final_url, outcome.content_type))
        expect = oracle(file, str(result.get("encoding") or "utf-8"))
        try:
            # the oracle is a Python expression from the corpus, as feedparser evaluates it
            met = eval(expect, {"feedparser": feedparser}, result)
        except Exception as exc:  # an oracle that cannot even be evaluated is a failure
            met = f"{type(exc).__name__}: {exc}"
        if not met:
            failures.append(f"{file.name}: {expect} -> {met!r} (encoding "
                            f"{result.get('encoding')}, Content-Type {outcome.content_type})")
        parse_feed(outcome.body, outcome.final_url, outcome.content_type)  # never raises
    assert failures == []


@pytest.mark.parametrize(("name", "content_type", "title", "summary"), [
    ("euc-kr-item.xml", "application/xml", None, "\ub144"),
    ("http_i18n.xml", "application/xml", "Iñtërnâtiônàlizætiøn", None),
    # text/xml without charset means us-ascii, which the bytes are not: feedparser reads
    # them as the declared utf-8 and says so; the text is still right
    ("bozo_http_i18n.xml", "text/xml", "Iñtërnâtiônàlizætiøn", None),
])
def test_the_product_parse_gives_the_right_text(name: str, content_type: str, title: str | None,
                                                summary: str | None) -> None:
    parsed = parse_feed((ENCODING_CASES / name).read_bytes(), "http://127.0.0.1/feed.xml",
                        content_type)
    assert parsed.title == title
    if summary is not None:
        assert [i.summary_html for i in parsed.items] == [summary]
