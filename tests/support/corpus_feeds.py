"""The corpus's feeds as a test feed server serves them: the ~87 real news feeds under
/news/<file> (as application/xml), and every feedparser test case under /fp/<path> with
its `Header:` lines as real response headers. Shared by the corpus tests that fetch and
parse them one by one and the one that polls them all in a single cycle."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.feed_server import FeedServer
from tests.support.corpus import CORPUS_DIR

NEWS_DIR = CORPUS_DIR / "news-feeds"
FEEDPARSER_DIR = CORPUS_DIR / "feedparser-tests"
FEED_SUFFIXES = (".xml", ".json", ".rdf", ".atom", ".rss")


def news_index() -> list[dict[str, object]]:
    """news-feeds/_index.json: file, entries, bozo... per real feed (see the corpus README)."""
    data = json.loads((NEWS_DIR / "_index.json").read_text())
    assert isinstance(data, list) and len(data) >= 80
    return data


def feedparser_cases() -> list[Path]:
    return [f for f in sorted(FEEDPARSER_DIR.rglob("*"))
            if f.is_file() and f.suffix in FEED_SUFFIXES]


def news_path(name: str) -> str:
    return f"/news/{name}"


def case_path(file: Path) -> str:
    return f"/fp/{file.relative_to(FEEDPARSER_DIR).as_posix()}"


def serve_corpus(server: FeedServer) -> None:
    for entry in news_index():
        name = str(entry["file"])
        server.serve_bytes(news_path(name), (NEWS_DIR / name).read_bytes(),
                           headers={"Content-Type": "application/xml"})
    for file in feedparser_cases():
        server.serve_feedparser_case(case_path(file), file)
