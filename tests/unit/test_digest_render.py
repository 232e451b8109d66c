"""bot.digest.render: layout, escaping, links, quiet days, splitting at topic boundaries.

Every HTML message is checked with the Bot API emulator's parser
(`tests.fakes.telegram_html.parse_html`, strict about stray `&`), the way sendMessage
applies it: parse, trim, non-empty, at most 4096 UTF-16 units.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.telegram_html import MAX_MESSAGE_UTF16, utf16_len
from bot.digest.build import DigestSection, DigestStory, build_digest
from bot.digest.render import DigestLabels, format_period, render_digest, render_digest_plain
from bot.digest.schedule import DigestPeriod
from tests.fakes.telegram_html import parse_html, trim_text

NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")


def accepted(chunk: str, limit: int = MAX_MESSAGE_UTF16) -> tuple[str, list[dict[str, Any]]]:
    """Parse `chunk` as the emulator's sendMessage does; fail where Telegram would."""
    text, entities = parse_html(chunk)  # raises EntityParseError: "can't parse entities"
    trimmed, entities = trim_text(text, entities)
    assert trimmed, f"message text is empty: {chunk!r}"
    assert utf16_len(trimmed) <= limit, f"message is too long ({utf16_len(trimmed)})"
    return trimmed, entities


DEFAULT_URL = "default"


def story(key: str, title: str = "", *, url: str | None = DEFAULT_URL,
          sources: tuple[str, ...] = ("Reuters",),
          at: datetime = NOW - timedelta(hours=1)) -> DigestStory:
    return DigestStory(
        story_key=key, title=title or f"Story {key}",
        url=f"https://example.org/{key}" if url == DEFAULT_URL else url,
        source=sources[0] if sources else "", sources=sources, published_at=at,
        first_seen_at=at, topics=("tariffs",), title_hit=False, score=1.0,
    )


def section(slug: str, name: str, stories: list[DigestStory], more: int = 0) -> DigestSection:
    return DigestSection(slug=slug, name=name, stories=tuple(stories), more=more)


def test_layout() -> None:
    sections = [
        section("tariffs", "Tariffs", [
            story("a", "US raises tariffs on EVs", sources=("Reuters", "AP", "BBC", "DW")),
            story("b", "Beijing responds", url=None, at=datetime(2026, 11, 26, 22, 5, tzinfo=UTC)),
        ], more=3),
        section("rare-earths", "Rare earths", [story("c", "Export quotas cut")]),
    ]
    [message] = render_digest(sections, "Fri 27 Nov", MADRID, quiet_day_line=False)
    assert message == (
        "📰 Your daily digest · Fri 27 Nov\n"
        "\n"
        "<b>Tariffs</b>\n"
        '• <a href="https://example.org/a">US raises tariffs on EVs</a> · 4 outlets'
        " · 27 Nov 08:00 CET\n"
        "• Beijing responds · Reuters · 26 Nov 23:05 CET\n"
        "+3 more — /latest tariffs\n"
        "\n"
        "<b>Rare earths</b>\n"
        '• <a href="https://example.org/c">Export quotas cut</a> · Reuters · 27 Nov 08:00 CET'
    )
    accepted(message)


def test_plain_layout() -> None:
    sections = [section("tariffs", "Tariffs", [story("a", "Tariffs <up> & away"),
                                               story("b", "No link", url=None)], more=1)]
    [message] = render_digest_plain(sections, "Fri 27 Nov", MADRID, quiet_day_line=False)
    assert message == (
        "📰 Your daily digest · Fri 27 Nov\n"
        "\n"
        "Tariffs\n"
        "• Tariffs <up> & away · Reuters · 27 Nov 08:00 CET\n"
        "  https://example.org/a\n"
        "• No link · Reuters · 27 Nov 08:00 CET\n"
        "+1 more — /latest tariffs"
    )


@pytest.mark.parametrize(("key", "label"), [
    ("2026-11-27", "Fri 27 Nov"), ("2026-03-29", "Sun 29 Mar"), ("2027-01-01", "Fri 1 Jan"),
])
def test_format_period(key: str, label: str) -> None:
    period = DigestPeriod(key=key, due_at=NOW, starts_at=NOW - timedelta(days=1))
    assert format_period(period) == label


@pytest.mark.parametrize(("quiet_day_line", "expected"), [
    (True, ["☕ A quiet day: nothing new on your topics."]),
    (False, []),
], ids=["quiet-line-on", "quiet-line-off"])
@pytest.mark.parametrize("render", [render_digest, render_digest_plain], ids=["html", "plain"])
def test_quiet_day(render: Any, quiet_day_line: bool, expected: list[str]) -> None:
    assert render([], "Fri 27 Nov", MADRID, quiet_day_line) == expected
    empty = [section("tariffs", "Tariffs", [])]
    assert render(empty, "Fri 27 Nov", MADRID, quiet_day_line) == expected


# (id, title, source, topic name, text that must be shown literally)
HOSTILE = [
    ("script-tag", "<script>alert(1)</script>", "Reuters", "Tariffs", "<script>alert(1)</script>"),
    ("ampersand", "Trade & tariffs &amp; more", "Reuters", "Tariffs", "Trade & tariffs &amp; more"),
    ("fake-entity", "AT&T; &#x41; &lt;b&gt;", "Reuters", "Tariffs", "AT&T; &#x41; &lt;b&gt;"),
    ("quote-in-title", 'He said "no" <i>', "Reuters", "Tariffs", 'He said "no" <i>'),
    ("hostile-source", "Title", "<b>Evil</b> & co", "Tariffs", "<b>Evil</b> & co"),
    ("hostile-topic-name", "Title", "Reuters", "</b><a href='x'>Topic & co", "Topic & co"),
    ("control-chars", "Tariffs\x00\x1b[31m up\u202e", "Reuters", "Tariffs", "Tariffs[31m up"),
]


@pytest.mark.parametrize(("title", "source", "name", "shown"), [c[1:] for c in HOSTILE],
                         ids=[c[0] for c in HOSTILE])
def test_hostile_text_is_escaped(title: str, source: str, name: str, shown: str) -> None:
    sections = [section("tariffs", name, [story("s", title, sources=(source,))], more=2)]
    [message] = render_digest(sections, "<Fri> & 27 Nov", MADRID, quiet_day_line=False)
    text, entities = accepted(message)
    assert shown in text
    assert "📰 Your daily digest · <Fri> & 27 Nov" in text
    # Markup comes only from the renderer: a bold heading and one link.
    assert sorted(e["type"] for e in entities) == ["bold", "text_link"]


# (id, url, linked?)
LINKS = [
    ("https", "https://example.org/a?x=1&y=2", True),
    ("http", "http://example.org/a", True),
    ("upper-case-scheme", "HTTPS://example.org/a", True),
    ("quote-in-url", 'https://example.org/a"onmouseover="x', True),
    ("javascript", "javascript:alert(1)", False),
    ("data", "data:text/html,<script>alert(1)</script>", False),
    ("ftp", "ftp://example.org/file", False),
    ("mailto", "mailto:a@example.org", False),
    ("relative", "/news/1", False),
    ("no-host", "https:///path", False),
    ("space-inside", "https://example.org/a b", False),
    ("none", None, False),
    ("empty", "", False),
]


@pytest.mark.parametrize(("url", "linked"), [c[1:] for c in LINKS], ids=[c[0] for c in LINKS])
def test_links_only_for_http(url: str | None, linked: bool) -> None:
    sections = [section("tariffs", "Tariffs", [story("s", "Title", url=url)])]
    [message] = render_digest(sections, "Fri 27 Nov", MADRID, quiet_day_line=False)
    _, entities = accepted(message)
    links = [e for e in entities if e["type"] == "text_link"]
    if linked:
        assert [link["url"] for link in links] == [url]
    else:
        assert links == []
        assert "<a " not in message


def test_long_title_is_bounded() -> None:
    sections = [section("tariffs", "Tariffs", [story("s", "word " * 500)])]
    [message] = render_digest(sections, "Fri 27 Nov", MADRID, quiet_day_line=False)
    text, _ = accepted(message)
    line = text.splitlines()[3]
    assert "…" in line and len(line) < 400


def test_custom_labels() -> None:
    labels = DigestLabels(header="Resumen · {period}", outlets="{count} medios",
                          more="+{count} más — /latest {slug}")
    sections = [section("aranceles", "Aranceles", [story("s", sources=("A", "B"))], more=2)]
    [message] = render_digest(sections, "vie 27 nov", MADRID, False, labels=labels)
    assert message.startswith("Resumen · vie 27 nov\n")
    assert "· 2 medios ·" in message and message.endswith("+2 más — /latest aranceles")


# ---- splitting ------------------------------------------------------------------------

LONG_TITLE = ("Rare earth export controls tighten again as negotiators trade proposals on "
              "tariffs, student visas and chip licences in a marathon session 🇨🇳🇺🇸 & more ") * 4


def many_stories(topics: int, per_topic: int) -> tuple[list[DigestStory], list[tuple[str, str]]]:
    chat_topics = [(f"topic-{t:02}", f"Topic {t:02} <&>") for t in range(topics)]
    stories = [
        DigestStory(
            story_key=f"s{t:02}-{i:03}", title=f"[{t:02}/{i:03}] {LONG_TITLE}",
            url=f"https://example.org/{t}/{i}?a=1&b=2", source="Reuters",
            sources=("Reuters", "AP", "BBC")[: 1 + i % 3],
            published_at=NOW - timedelta(minutes=i), first_seen_at=NOW - timedelta(minutes=i),
            topics=(chat_topics[t][0],), title_hit=i % 2 == 0, score=float(i % 5),
        )
        for t in range(topics) for i in range(per_topic)
    ]
    return stories, chat_topics


def check_messages(messages: list[str]) -> list[str]:
    """Every message valid, within the limit; their texts returned."""
    assert messages
    return [accepted(m)[0] for m in messages]


@pytest.mark.parametrize(("topics", "per_topic"), [(300, 1), (60, 5), (30, 10)],
                         ids=["300x1", "60x5", "30x10"])
def test_300_long_stories_split_at_topic_boundaries(topics: int, per_topic: int) -> None:
    stories, chat_topics = many_stories(topics, per_topic)
    sections = build_digest(stories, chat_topics, [], NOW, per_topic=per_topic)
    assert sum(len(s.stories) for s in sections) == 300
    messages = render_digest(sections, "Fri 27 Nov", MADRID, quiet_day_line=False)
    texts = check_messages(messages)
    assert len(messages) > 1

    for slug, name in chat_topics:
        heading = f"<b>{name.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</b>"
        assert sum(m.count(heading) for m in messages) == 1, slug
    # Each message starts with the header or a heading: no topic straddles two messages.
    assert texts[0].startswith("📰 Your daily digest · Fri 27 Nov")
    assert all(text.startswith("Topic ") for text in texts[1:])
    # Nothing lost: every story's line is in exactly one message.
    for s in stories:
        tag = s.title[:8]
        assert sum(text.count(tag) for text in texts) == 1, tag
    # Packed, not one section per message when two fit.
    if per_topic <= 5:
        assert len(messages) < topics


def test_sections_each_over_the_limit_are_split_inside_but_start_a_message() -> None:
    stories, chat_topics = many_stories(10, 30)
    sections = build_digest(stories, chat_topics, [], NOW, per_topic=30)
    messages = render_digest(sections, "Fri 27 Nov", MADRID, quiet_day_line=False)
    texts = check_messages(messages)
    assert len(messages) >= 20
    starts = [i for i, text in enumerate(texts) if text.startswith("Topic ")]
    assert len(starts) == 9  # the first section rides with the header
    for _slug, name in chat_topics:
        assert sum(text.count(f"{name}\n") for text in texts) == 1
    for s in stories:
        assert sum(text.count(s.title[:8]) for text in texts) == 1


def test_one_section_over_the_limit_is_split_inside() -> None:
    stories, chat_topics = many_stories(1, 300)
    sections = build_digest(stories, chat_topics, [], NOW, per_topic=300)
    messages = render_digest(sections, "Fri 27 Nov", MADRID, quiet_day_line=False)
    texts = check_messages(messages)
    assert len(messages) > 5
    assert texts[0].startswith("📰 Your daily digest · Fri 27 Nov\n\nTopic 00")
    assert sum(m.count("<b>Topic 00 &lt;&amp;&gt;</b>") for m in messages) == 1
    # split_html prefers line breaks: every message holds whole story lines.
    for text in texts[1:]:
        assert text.startswith("• [00/")
    for s in stories:
        assert sum(text.count(s.title[:8]) for text in texts) == 1


def test_sections_after_a_huge_one_start_a_new_message() -> None:
    big, chat_topics = many_stories(1, 40)
    small = [story("tiny", "Tiny story")]
    sections = [*build_digest(big, chat_topics, [], NOW, per_topic=40),
                section("tariffs", "Tariffs", small), section("visas", "Visas", small)]
    texts = check_messages(render_digest(sections, "Fri 27 Nov", MADRID, False))
    assert texts[-1].startswith("Tariffs\n")
    assert "Visas\n" in texts[-1]


@pytest.mark.parametrize("limit", [120, 200, 400, 1000])
def test_small_limits_pack_whole_sections(limit: int) -> None:
    sections = [section(f"t{i}", f"Topic {i}", [story(f"s{i}", f"Story number {i}")])
                for i in range(8)]
    messages = render_digest(sections, "Fri 27 Nov", MADRID, False, limit=limit)
    texts = [accepted(m, limit)[0] for m in messages]
    for i in range(8):
        assert sum(text.count(f"Topic {i}\n") for text in texts) == 1
        assert sum(text.count(f"Story number {i} ") for text in texts) == 1
    # Greedy packing: no two neighbouring messages could have been one.
    for first, second in itertools.pairwise(texts):
        assert utf16_len(first) + 2 + utf16_len(second) > limit


def test_plain_splits_within_the_limit() -> None:
    stories, chat_topics = many_stories(10, 30)
    sections = build_digest(stories, chat_topics, [], NOW, per_topic=30)
    messages = render_digest_plain(sections, "Fri 27 Nov", MADRID, quiet_day_line=False)
    assert len(messages) > 1
    assert all(0 < utf16_len(m) <= MAX_MESSAGE_UTF16 for m in messages)
    assert all("<b>" not in m for m in messages)
    assert sum(m.count("https://example.org/") for m in messages) == 300
