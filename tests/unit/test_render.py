"""bot.delivery.render: golden alerts from real feed items, layout rules, split_html cases.

Golden cases render real items of ../shared/corpus/news-feeds (loaded at run time through
tests/support/corpus.py). The feed text is the publishers' and is not republished here, so
tests/data/render/<case>.json keeps only what the case shows, in our words, and the SHA-256
of the expected HTML messages (`render_alert`, messages separated by GOLDEN_SEPARATOR) and
of the plain-text fallback (`render_alert_plain`); the layout rules themselves are asserted
explicitly below. On a mismatch the test prints the full actual output. After an intended
change to the summary or the layout, regenerate, read the printed output and commit the
new hashes:

    NEWSBOT_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_render.py -k golden -s
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.render import (
    ENGLISH,
    MAX_HIGHLIGHTS,
    Labels,
    escape,
    format_alert,
    format_time,
    highlight_html,
    render_alert,
    render_alert_plain,
    split_html,
    utf16_len,
)
from bot.model import Alert
from bot.summary import html_to_text, summarize
from tests.fakes.telegram_html import parse_html
from tests.support.corpus import entry
from tests.unit.test_render_properties import accepted, assert_covers

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "render"
GOLDEN_SEPARATOR = "\n----- next message -----\n"
REGENERATE = os.environ.get("NEWSBOT_REGENERATE_GOLDEN") == "1"
UTC_ZONE = ZoneInfo("UTC")


# --- golden: real items --------------------------------------------------------------------------

@dataclass(frozen=True)
class Golden:
    name: str
    about: str  # what the case exercises, in our words (written to the golden file)
    feed: str  # under shared/corpus/news-feeds
    index: int  # in feedparser.parse(feed)["entries"]
    title_sha: str  # tests/support/corpus.py: first 12 hex digits of SHA-256(title)
    lang: str
    zone: str
    source: str
    topics: tuple[str, ...]
    when: str  # the time on the meta line, in the chat's zone
    bold: tuple[str, ...] = ()  # the highlighted words of the summary, in order
    terms: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    also_line: str = ""  # "" when no "Also reported by" line is expected
    absent: tuple[str, ...] = ()  # feed boilerplate that must not reach the alert
    max_chars: int = 300


GOLDEN_CASES = [
    Golden("en-cnbc-us-china-trade-talks",
           "CNBC finance RSS, plain-text description used whole as the lead; two highlight "
           "terms; eight other outlets, the alert's own source dropped and the rest capped "
           "at five plus a count; New York summer time",
           "cnbc-finance-2019-07-29.xml", 2, "4855f7cccc0c", "en",
           "America/New_York", "CNBC", ("Trade talks", "Tariffs"), "29 Jul 08:32 EDT",
           ("trade", "negotiators"), ("trade", "negotiators"),
           ("Reuters", "Bloomberg", "CNBC", "The Wall Street Journal", "Financial Times", "AP",
            "AFP", "Nikkei Asia"),
           "Also reported by: Reuters, Bloomberg, The Wall Street Journal, Financial Times, "
           "AP, +2"),
    Golden("en-wsj-china-trade-policy",
           "WSJ world RSS with both a description and content:encoded (the description is "
           "the lead); highlight terms match whatever their case; London summer time; no "
           "other outlets",
           "wsj-world-2021-10-12.xml", 6, "0fd6119b9d36", "en", "Europe/London",
           "The Wall Street Journal", ("Tariffs",), "1 Oct 17:59 BST", ("China", "Trade"),
           ("trade", "China")),
    Golden("en-nyt-student-visas",
           "NYT US RSS: a two-sentence lead that fits in 300 characters, typographic "
           "apostrophes kept, a two-word phrase highlighted; Shanghai time",
           "nytimes-usnews-2020-05-29-poll1.xml", 15, "e9ff52db483c", "en",
           "Asia/Shanghai", "The New York Times", ("Student visas",), "28 May 23:21 CST",
           ("Chinese students",), ("Chinese students", "Chinese"), ("Reuters",),
           "Also reported by: Reuters"),
    Golden("en-guardian-continue-reading",
           "Guardian world RSS, HTML description: the first paragraph (a standfirst without "
           "an end mark) is the lead, later paragraphs and the trailing 'Continue reading' "
           "link are dropped; a wildcard term that is not in the lead highlights nothing",
           "guardian-world-2022-09-25-nodecl.xml", 0, "fc2dab592cda", "en",
           "Europe/London", "The Guardian", ("Ukraine",), "23 Sep 11:11 BST", (),
           ("prisoner*",), absent=("Continue reading",)),
    Golden("en-slashdot-share-bar",
           "Slashdot RSS 1.0 in ISO-8859-1: the share-button bar and the 'Read more of this "
           "story' trailer are dropped, the first sentence is the lead; the link's query "
           "string is attribute-escaped; UTC",
           "slashdot-rdf-iso8859-1.xml", 0, "4c11e348e1c2", "en", "UTC", "Slashdot",
           ("Satellites",), "24 Aug 07:00 UTC", ("SpaceX", "Starlink"),
           ("Starlink", "SpaceX"), absent=("Read more of this story", "twitter", "facebook")),
    Golden("zh-nyt-cameron-aiib",
           "NYT Chinese RSS (GreatFire mirror link with a query string): two Chinese "
           "sentences joined without a space as the lead, two CJK highlight terms, Chinese "
           "outlet names; Shanghai time",
           "nytimes-chinese-2015-03-16.xml", 2, "8eb47f05e7da", "zh", "Asia/Shanghai",
           "纽约时报中文网", ("Trade policy",), "16 Mar 12:19 CST", ("亚投行", "华盛顿"),
           ("亚投行", "华盛顿"), ("BBC 中文", "德国之声"), "Also reported by: BBC 中文, 德国之声"),
    Golden("es-20minutos-putin",
           "20minutos RSS 1.0, HTML description: the agency credit paragraph is dropped and "
           "the first two bullet points form the lead; double quotes escaped in title and "
           "summary; accented highlight term; Madrid winter time",
           "20minutos-rdf-2017-01-07.xml", 1, "b6b4920c5426", "es", "Europe/Madrid",
           "20minutos", ("Ciberseguridad",), "6 Jan 22:26 CET", ("Putin", "ciberataques"),
           ("ciberataques", "Putin"), ("El País", "EFE"), "Also reported by: El País, EFE"),
]


def load_alert(case: Golden) -> Alert:
    item = entry(f"news-feeds/{case.feed}", case.index, case.title_sha)
    title = item.get("title", "")
    if item.get("title_detail", {}).get("type") == "text/html":
        title = html_to_text(title)
    content = item.content[0].value if item.get("content") else ""
    stamp = item.get("published_parsed") or item.get("updated_parsed")
    published = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC) if stamp else None
    return Alert(
        title=title,
        url=item.get("link"),
        source=case.source,
        summary=summarize(item.get("summary", ""), content, case.max_chars, case.lang),
        published_at=published,
        topics=case.topics,
        highlight_terms=case.terms,
        also_reported_by=case.also,
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_golden(case: Golden, html: str, plain: str) -> None:
    """Compare the rendered output with the hashes in tests/data/render/<case>.json, or
    write them when NEWSBOT_REGENERATE_GOLDEN=1. The output itself is publisher text
    and is only ever printed, never stored."""
    path = GOLDEN / f"{case.name}.json"
    actual = {"about": case.about, "html_sha256": sha256(html), "text_sha256": sha256(plain)}
    if REGENERATE:
        path.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        print(f"\n{case.name}.html:\n{html}\n{case.name}.txt:\n{plain}")
        return
    assert path.is_file(), f"{path} missing: run with NEWSBOT_REGENERATE_GOLDEN=1"
    expected = json.loads(path.read_text(encoding="utf-8"))
    for key, output, kind in (("html_sha256", html, "HTML"), ("text_sha256", plain, "text")):
        if actual[key] != expected[key]:
            pytest.fail(
                f"{case.name}: {kind} output differs from the golden hash in {path.name}.\n"
                f"Actual output:\n{output}\n"
                "If the change is intended, regenerate with NEWSBOT_REGENERATE_GOLDEN=1.",
                pytrace=False,
            )


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=[c.name for c in GOLDEN_CASES])
def test_golden_render(case: Golden) -> None:
    alert = load_alert(case)
    tz = ZoneInfo(case.zone)
    chunks = render_alert(alert, tz)
    assert len(chunks) == 1, "a normal alert is one message"
    accepted(chunks[0])
    plain = render_alert_plain(alert, tz)
    assert alert.url
    assert 0 < len(alert.summary) <= case.max_chars

    # The layout, whatever the publisher's words: badges, linked bold title, italic meta
    # line, a blank line, the summary with highlights, the optional "Also reported by".
    tail = ["", case.also_line] if case.also_line else []
    badges = "🏷 " + " · ".join(case.topics)
    lines = chunks[0].split("\n")
    assert lines[:4] == [
        badges,
        f'<b><a href="{escape(alert.url)}">{escape(alert.title)}</a></b>',
        f"<i>{escape(case.source)} · {case.when}</i>",
        "",
    ]
    assert lines[5:] == tail
    summary_html = lines[4]
    assert parse_html(summary_html)[0] == alert.summary
    assert tuple(re.findall(r"<b>(.*?)</b>", summary_html)) == case.bold
    assert re.sub(r"</?b>", "", summary_html) == escape(alert.summary)
    assert plain == ["\n".join([badges, alert.title, f"{case.source} · {case.when}", alert.url,
                                "", alert.summary, *tail])]
    for text in case.absent:
        assert text not in chunks[0]
        assert text not in plain[0]

    check_golden(case, GOLDEN_SEPARATOR.join(chunks) + "\n",
                 GOLDEN_SEPARATOR.join(plain) + "\n")


# --- escaping and counting -----------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "escaped"), [
    ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
    ('say "hi"', "say &quot;hi&quot;"),
    ("&amp;", "&amp;amp;"),
    ("plain", "plain"),
], ids=["operators", "quotes", "entity-text", "plain"])
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped
    assert parse_html(escaped)[0] == raw


@pytest.mark.parametrize(("text", "units"), [
    ("a", 1), ("中", 1), ("é", 1), ("e\u0301", 2), ("👍", 2), ("👍🏽", 4), ("🇺🇸", 4), ("", 0),
], ids=["ascii", "cjk", "precomposed", "combining", "emoji", "emoji-modifier", "flag", "empty"])
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


# --- time ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("zone", "expected"), [
    ("Europe/Berlin", "27 Nov 14:05 CET"),
    ("America/New_York", "27 Nov 08:05 EST"),
    ("Asia/Shanghai", "27 Nov 21:05 CST"),
    ("Asia/Kathmandu", "27 Nov 18:50 UTC+0545"),
    ("UTC", "27 Nov 13:05 UTC"),
], ids=["cet", "est", "cst", "numeric-zone", "utc"])
def test_format_time_in_chat_zone(zone: str, expected: str) -> None:
    moment = datetime(2024, 11, 27, 13, 5, tzinfo=UTC)
    assert format_time(moment, ZoneInfo(zone)) == expected


def test_format_time_out_of_range_falls_back_to_utc() -> None:
    assert format_time(datetime(1, 1, 1, tzinfo=UTC), ZoneInfo("America/New_York")) == (
        "1 Jan 00:00 UTC"
    )


def test_format_time_unknown_and_naive() -> None:
    assert format_time(None, UTC_ZONE) == ""
    assert format_time(datetime(2024, 7, 1, 9, 0), ZoneInfo("Europe/Madrid")) == "1 Jul 11:00 CEST"


# --- layout --------------------------------------------------------------------------------------

def alert(**changes: object) -> Alert:
    base: dict[str, object] = {
        "title": "China curbs rare earth exports", "url": "https://example.com/a?x=1&y=2",
        "source": "Reuters", "summary": "Beijing tightened export controls on Monday.",
        "published_at": datetime(2024, 11, 27, 13, 5, tzinfo=UTC),
        "topics": ("Rare earths",), "highlight_terms": (), "also_reported_by": (),
    }
    base.update(changes)
    return Alert(**base)  # type: ignore[arg-type]


def test_layout() -> None:
    assert render_alert(alert(), ZoneInfo("Europe/Berlin")) == [
        "🏷 Rare earths\n"
        '<b><a href="https://example.com/a?x=1&amp;y=2">China curbs rare earth exports</a></b>\n'
        "<i>Reuters · 27 Nov 14:05 CET</i>\n\n"
        "Beijing tightened export controls on Monday."
    ]


def test_plain_layout_has_the_url_and_no_markup() -> None:
    assert render_alert_plain(alert(), UTC_ZONE) == [
        "🏷 Rare earths\nChina curbs rare earth exports\nReuters · 27 Nov 13:05 UTC\n"
        "https://example.com/a?x=1&y=2\n\nBeijing tightened export controls on Monday."
    ]


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "ftp://example.com/x", "http://", "https://e.com/a b", None, "",
    "https://e.com/" + "x" * 3000, "https://e.com/\x00",
], ids=["javascript", "ftp", "no-host", "space", "none", "empty", "too-long", "control"])
def test_title_not_linked_unless_http_url(url: str | None) -> None:
    html = format_alert(alert(url=url), UTC_ZONE)
    assert "<a " not in html
    assert "<b>China curbs rare earth exports</b>" in html


def test_url_is_attribute_escaped() -> None:
    html = format_alert(alert(url='https://e.com/?q="><script>&x=1'), UTC_ZONE)
    assert '<a href="https://e.com/?q=&quot;&gt;&lt;script&gt;&amp;x=1">' in html
    accepted(html)


def test_no_time_when_unknown_and_no_meta_when_empty() -> None:
    assert "<i>Reuters</i>" in format_alert(alert(published_at=None), UTC_ZONE)
    assert "<i>" not in format_alert(alert(published_at=None, source=" \n "), UTC_ZONE)


def test_title_bounded_and_never_empty() -> None:
    long_title = "word " * 200
    title_line = render_alert_plain(alert(title=long_title, topics=()), UTC_ZONE)[0].split("\n")[0]
    assert len(title_line) <= 300
    assert title_line.endswith("…")
    assert "(untitled)" in format_alert(alert(title="\x00 \n "), UTC_ZONE)


def test_title_and_source_are_single_lines() -> None:
    html = format_alert(alert(title="Line one\nLine two", source="A\r\nB"), UTC_ZONE)
    assert ">Line one Line two</a>" in html
    assert "<i>A B · " in html


def test_topic_badges_deduplicated_and_bounded() -> None:
    topics = ("Tariffs", "tariffs", "Export controls", "", "A", "B", "C", "D", "E")
    assert format_alert(alert(topics=topics), UTC_ZONE).split("\n")[0] == (
        "🏷 Tariffs · Export controls · A · B · C · +2"
    )


def test_also_reported_by_bounded_without_own_source() -> None:
    also = ("Reuters", "BBC", "bbc", "CNN", "AP", "AFP", "WSJ", "NYT", "FT", "x" * 200)
    html = format_alert(alert(also_reported_by=also), UTC_ZONE)
    assert html.endswith("\n\nAlso reported by: BBC, CNN, AP, AFP, WSJ, +3")
    assert "Also reported by" not in format_alert(alert(also_reported_by=("Reuters",)), UTC_ZONE)


def test_labels_are_one_table() -> None:
    spanish = Labels(also_reported_by="También en: {names}", untitled="(sin título)",
                     months=("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep",
                             "oct", "nov", "dic"))
    html = format_alert(alert(title="", also_reported_by=("BBC",)), UTC_ZONE, spanish)
    assert "(sin título)" in html
    assert "27 nov 13:05" in html
    assert "También en: BBC" in html
    assert ENGLISH.why_button == "Why this alert?"


# --- highlighting --------------------------------------------------------------------------------

HIGHLIGHT_CASES = [
    ("case-insensitive", "New TARIFFS announced", ("tariffs",), "New <b>TARIFFS</b> announced"),
    ("word-boundary", "Tariffs and tariff", ("tariff",), "Tariffs and <b>tariff</b>"),
    ("prefix-star", "Tariffs and tariff", ("tariff*",), "<b>Tariffs</b> and <b>tariff</b>"),
    ("overlapping-terms", "the trade war widens", ("trade", "trade war", "war widens"),
     "the <b>trade war widens</b>"),
    ("phrase-across-hyphen", "a trade-war truce", ('"trade war"',), "a <b>trade-war</b> truce"),
    ("never-inside-escape", "AT&T & amp", ("amp", "&"), "AT<b>&amp;</b>T <b>&amp;</b> <b>amp</b>"),
    ("markup-term-is-text", "x <b> y", ("<b>",), "x <b>&lt;b&gt;</b> y"),
    ("cjk-without-boundaries", "美国对中国加征关税。", ("关税", "中国"),
     "美国对<b>中国</b>加征<b>关税</b>。"),
    ("accents", "Aranceles de EE.UU. y ciberataques", ("ciberataques", "ee.uu."),
     "Aranceles de <b>EE.UU.</b> y <b>ciberataques</b>"),
    ("empty-terms-ignored", "text", ("", " ", "*", '""'), "text"),
]


@pytest.mark.parametrize(("text", "terms", "expected"), [c[1:] for c in HIGHLIGHT_CASES],
                         ids=[c[0] for c in HIGHLIGHT_CASES])
def test_highlight(text: str, terms: tuple[str, ...], expected: str) -> None:
    assert highlight_html(text, terms) == expected
    assert parse_html(expected)[0] == text


def test_highlights_are_capped() -> None:
    html = highlight_html("a " * 500, ("a",))
    assert html.count("<b>") == MAX_HIGHLIGHTS


# --- hostile item (the end-to-end case, at the renderer) ----------------------------------

def test_hostile_item_is_a_valid_alert() -> None:
    hostile = alert(
        title="<script>alert('x')</script> a & b < c",
        source="Evil & Co <i>",
        summary="<script>alert(1)</script> a & b < c " + "z" * 10_000,
        topics=("<b>Tariffs</b>",),
        highlight_terms=("a", "<script>", "&"),
        also_reported_by=("</a>", "&amp;"),
    )
    chunks = render_alert(hostile, UTC_ZONE)
    texts = [accepted(chunk)[0] for chunk in chunks]
    full = parse_html(format_alert(hostile, UTC_ZONE))[0]
    assert_covers(full, texts)
    assert "<script>alert('x')</script> a & b < c" in full
    assert "Also reported by: </a>, &amp;" in full


# --- split_html ----------------------------------------------------------------------------------

def test_split_prefers_paragraph_then_line_then_sentence_then_word() -> None:
    para = "First para words here.\n\nSecond para words."
    assert split_html(para, 30) == ["First para words here.", "Second para words."]
    line = "One line of words here\nnext line"
    assert split_html(line, 28) == ["One line of words here", "next line"]
    sentence = "Short one. Then a longer sentence"
    assert split_html(sentence, 20) == ["Short one.", "Then a longer", "sentence"]


def test_split_never_inside_entity_and_counts_parsed_length() -> None:
    html = "&amp;" * 10
    chunks = split_html(html, 4)
    assert chunks == ["&amp;" * 4, "&amp;" * 4, "&amp;" * 2]


def test_split_counts_utf16_and_keeps_emoji_whole() -> None:
    # One thumbs-up with a skin tone is 4 UTF-16 units: two never fit in 6, and the
    # modifier never leaves its emoji.
    assert split_html("👍🏽" * 5, 6) == ["👍🏽"] * 5
    assert split_html("👍🏽" * 5, 8) == ["👍🏽👍🏽", "👍🏽👍🏽", "👍🏽"]


def test_split_reopens_nested_tags_with_attributes() -> None:
    html = '<b>bold <a href="https://e.com/?a=1&amp;b=2">link <i>text here</i></a> end</b>'
    chunks = split_html(html, 12)
    assert chunks == [
        "<b>bold "
        '<a href="https://e.com/?a=1&amp;b=2">link</a></b>',
        '<b><a href="https://e.com/?a=1&amp;b=2"><i>text here</i></a></b>',
        "<b>end</b>",
    ]
    for chunk in chunks:
        accepted(chunk, 12)


def test_split_chinese_without_spaces() -> None:
    text = "美国宣布对中国商品加征关税。中国商务部表示将采取反制措施。双方将继续谈判。"
    chunks = split_html(text, 16)
    assert chunks == ["美国宣布对中国商品加征关税。", "中国商务部表示将采取反制措施。",
                      "双方将继续谈判。"]


def test_split_long_nested_markup() -> None:
    html = ("<blockquote><b>" + "<i>word &lt;x&gt; </i>" * 2000 + "</b></blockquote>\n\n"
            + "tail " * 500)
    chunks = split_html(html)
    assert len(chunks) >= 4
    texts = [accepted(chunk)[0] for chunk in chunks]
    assert_covers(parse_html(html)[0], texts)


def test_split_empty_and_whitespace_only() -> None:
    assert split_html("") == []
    assert split_html("<b> \n </b>") == []
