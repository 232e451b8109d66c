"""Property tests: whatever a feed sends, the rendered alert is messages Telegram accepts.

The oracle is the Bot API emulator's own HTML parser (`tests.fakes.telegram_html`, a port
of the server's parse mode, strict about stray `&`), applied the way the emulator's
sendMessage applies it: parse, trim, then "message text is empty" / "message is too long".

"Concatenates back to the full content" is checked precisely by `assert_covers`: the
unsplit message's parsed text T and the chunks' parsed texts t1..tn satisfy
t_i == T[o_(i-1):o_i].strip() for some offsets 0 = o_0 <= ... <= o_n = len(T), i.e. the
chunks are T, in order, with nothing lost but the whitespace at each cut and at both ends.
For `split_html` the formatting of every character (bold, link target...) must survive too.
"""

from __future__ import annotations

import html as stdlib_html
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.delivery.render import (
    format_alert,
    format_alert_plain,
    render_alert,
    render_alert_plain,
    split_html,
    split_text,
    utf16_len,
)
from bot.model import Alert
from bot.text.chars import clean_chars, cut_safety, fold_line, is_safe_cut
from tests.fakes.telegram_html import MAX_TEXT_UTF16, parse_html, trim_text


def accepted(chunk: str, limit: int = MAX_TEXT_UTF16) -> tuple[str, list[dict[str, Any]]]:
    """Parse `chunk` as the emulator's sendMessage does; fail the test where it would."""
    text, entities = parse_html(chunk)  # raises EntityParseError ("can't parse entities")
    trimmed, _ = trim_text(text, entities)
    assert trimmed, f"message text is empty: {chunk!r}"
    assert utf16_len(trimmed) <= limit, f"message is too long ({utf16_len(trimmed)})"
    assert utf16_len(text) <= limit  # our own count, before Telegram's trim, holds too
    return text, entities


def assert_covers(full: str, pieces: list[str]) -> list[int]:
    """Check the cover property (module docstring); return each piece's offset in `full`."""
    offsets: list[int] = []
    position = 0
    for piece in pieces:
        assert piece, "empty chunk"
        assert piece == piece.strip(), f"chunk not trimmed at the cut: {piece[:40]!r}"
        while position < len(full) and full[position].isspace():
            position += 1
        assert full.startswith(piece, position), (
            f"chunk does not continue the text at {position}: {piece[:40]!r} vs "
            f"{full[position:position + 40]!r}"
        )
        offsets.append(position)
        position += len(piece)
    assert not full[position:].strip(), f"text lost after the last chunk: {full[position:][:40]!r}"
    return offsets


def no_space(text: str) -> str:
    return "".join(text.split())


def char_styles(text: str, entities: list[dict[str, Any]]) -> list[frozenset[tuple[Any, ...]]]:
    """The set of formats (type, url) on each character, from UTF-16 entity offsets."""
    char_at_unit: list[int] = []
    for index, char in enumerate(text):
        char_at_unit.extend([index] * utf16_len(char))
    styles: list[set[tuple[Any, ...]]] = [set() for _ in text]
    for entity in entities:
        key = (entity["type"], entity.get("url"))
        for unit in range(entity["offset"], entity["offset"] + entity["length"]):
            styles[char_at_unit[unit]].add(key)
    return [frozenset(s) for s in styles]


# --- strategies ----------------------------------------------------------------------------------

HOSTILE = [
    "<", ">", "&", "&amp;", "&lt;", "&#0;", "&#xD800;", "&nbsp;", "<b>", "</b>", "<i>",
    "</a>", '<a href="javascript:alert(1)">', "<script>alert(1)</script>", '"', "'", "\x00",
    "\x1b", "\x7f", "\x85", "\r\n", "\r", "\t", "\u2028", "\u202e", "\u2066", "\u200d",
    "\u200b", "\ufeff", "\ud800", "\udfff", "👍🏽", "👨\u200d👩\u200d👧", "🇺🇸🇨🇳", "مرحبا بالعالم",
    "שלום", "e\u0301", "\u0301\u0301\u0301", "中文。", "¿Qué?", " ", "  ", "\n", "\n\n",
    "\n \n\n", "\u3000", "\xa0", "trade war", "Tariffs", "a" * 60, "x." * 30,
]
FREE = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
FIELD = st.lists(st.one_of(st.sampled_from(HOSTILE), FREE), max_size=25).map("".join)
# Up to ~20,000 characters cheaply: a hostile field repeated.
HUGE = st.tuples(FIELD, st.integers(min_value=1, max_value=2500)).map(
    lambda pair: (pair[0] * pair[1])[:20_000]
)
URLS = st.one_of(
    st.none(),
    st.sampled_from([
        "https://example.com/a?b=1&c=2", 'https://e.com/"><script>', "javascript:alert(1)",
        "http://", "ftp://e.com/x", "https://e.com/a b", "HTTPS://E.COM/Ü?q=中文",
        "https://e.com/" + "x" * 3000,
    ]),
    FIELD,
)
TERMS = st.one_of(FIELD, st.sampled_from(
    ["trade", "a", "&", "<b>", "中", "tariff*", '"trade war"', "amp", "lt", "x.", " "]
))
ZONES = st.sampled_from(["UTC", "Europe/Madrid", "Asia/Shanghai", "America/New_York",
                         "Asia/Kathmandu", "Pacific/Chatham", "Asia/Dubai"])
ALERTS = st.builds(
    Alert,
    title=st.one_of(FIELD, HUGE),
    url=URLS,
    source=FIELD,
    summary=st.one_of(FIELD, HUGE),
    published_at=st.one_of(
        st.none(),
        st.datetimes(timezones=st.just(UTC)),
        st.sampled_from([datetime(1, 1, 1, tzinfo=UTC),
                         datetime(9999, 12, 31, 23, 59, tzinfo=UTC)]),
    ),
    topics=st.lists(FIELD, max_size=8).map(tuple),
    highlight_terms=st.lists(TERMS, max_size=6).map(tuple),
    also_reported_by=st.lists(FIELD, max_size=12).map(tuple),
)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- render_alert --------------------------------------------------------------------------------

@SETTINGS
@given(ALERTS, ZONES)
def test_any_alert_renders_to_accepted_messages(alert: Alert, zone: str) -> None:
    tz = ZoneInfo(zone)
    chunks = render_alert(alert, tz)
    assert chunks
    texts = [accepted(chunk)[0] for chunk in chunks]
    full, _ = parse_html(format_alert(alert, tz))
    assert_covers(full, texts)
    # Nothing of the feed's text is lost or altered, only whitespace and control characters.
    assert no_space(clean_chars(alert.summary)) in no_space(full)
    title = fold_line(clean_chars(alert.title))
    if len(title) <= 300:
        assert no_space(title) in no_space(full)


@SETTINGS
@given(ALERTS, ZONES)
def test_any_alert_renders_to_plain_fallback(alert: Alert, zone: str) -> None:
    tz = ZoneInfo(zone)
    chunks = render_alert_plain(alert, tz)
    assert chunks
    for chunk in chunks:
        assert chunk.strip()
        assert utf16_len(chunk) <= MAX_TEXT_UTF16
        assert not any(ord(ch) < 32 and ch != "\n" for ch in chunk)
        chunk.encode("utf-8")  # no lone surrogates
    assert_covers(format_alert_plain(alert, tz), chunks)
    assert no_space(clean_chars(alert.summary)) in no_space("".join(chunks))


def test_twenty_thousand_character_summary_splits_into_valid_messages() -> None:
    unit = "Tariffs & <duties> rise 3.5% 👍🏽 مرحبا 中文。 \u0301a&amp;b < c\n"
    alert = Alert(title="T" * 5000, url="https://e.com/?a=1&b=2", source="Src",
                  summary=(unit * 1000)[:20_000], published_at=None, topics=("Tariffs",),
                  highlight_terms=("tariff*", "中文"))
    chunks = render_alert(alert, ZoneInfo("UTC"))
    assert len(chunks) >= 5
    texts = [accepted(chunk)[0] for chunk in chunks]
    assert_covers(parse_html(format_alert(alert, ZoneInfo("UTC")))[0], texts)


# --- split_html ----------------------------------------------------------------------------------

TAGS = [
    ("<b>", "</b>"), ("<strong>", "</strong>"), ("<i>", "</i>"), ("<em>", "</em>"),
    ("<u>", "</u>"), ("<s>", "</s>"), ("<del>", "</del>"), ("<tg-spoiler>", "</tg-spoiler>"),
    ('<span class="tg-spoiler">', "</span>"), ("<blockquote>", "</blockquote>"),
    ('<a href="https://example.com/?q=1&amp;r=&quot;2&quot;">', "</a>"), ("<code>", "</code>"),
]
TEXT_LEAF = st.lists(
    st.one_of(
        st.characters(exclude_categories=("Cc", "Cs")),
        st.sampled_from([" ", "\n", "\n\n", ". ", "。", "👍🏽", "e\u0301", "🇺🇸", "<&>"]),
    ),
    max_size=40,
).map(lambda parts: stdlib_html.escape("".join(parts), quote=False))
HTML_TREES = st.recursive(
    TEXT_LEAF,
    lambda children: st.tuples(st.sampled_from(TAGS), st.lists(children, min_size=1, max_size=5))
    .map(lambda pair: pair[0][0] + "".join(pair[1]) + pair[0][1]),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(HTML_TREES, min_size=1, max_size=4).map("".join),
       st.integers(min_value=2, max_value=300))
def test_split_html_keeps_text_and_formatting(html: str, limit: int) -> None:
    full, full_entities = parse_html(html)
    chunks = split_html(html, limit)
    parsed = [accepted(chunk, limit) for chunk in chunks]
    offsets = assert_covers(full, [text for text, _ in parsed])
    full_styles = char_styles(full, full_entities)
    for (text, entities), offset in zip(parsed, offsets, strict=True):
        assert char_styles(text, entities) == full_styles[offset : offset + len(text)]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=2, max_value=100))
def test_split_html_repairs_arbitrary_input(raw: str, limit: int) -> None:
    # Not Telegram HTML at all: stray <, &, unknown or unbalanced tags. Output is still valid.
    raw = clean_chars(raw).replace("\x00", "")
    for chunk in split_html(raw, limit):
        accepted(chunk, limit)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=500),
       st.integers(min_value=2, max_value=120))
def test_split_text_covers_and_fits(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(utf16_len(chunk) <= limit for chunk in chunks)
    assert_covers(text, chunks)


def test_split_html_rejects_a_limit_too_small_for_an_astral_character() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_html("x", 1)


CLUSTER_PIECES = ["🇺", "🇸", "\u200d", "e", "\u0301", "\r", "\n", "👍", "🏽", " ", "中"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CLUSTER_PIECES), max_size=30).map("".join))
def test_cut_safety_table_matches_the_single_position_test(text: str) -> None:
    table = cut_safety(text)
    assert [bool(flag) for flag in table] == [is_safe_cut(text, i) for i in range(len(text) + 1)]


def test_long_flag_runs_split_between_flags() -> None:
    # 20,000 regional-indicator halves: parity must come from one pass, not a rescan per cut.
    chunks = split_html("🇺🇸" * 10_000, 7)
    assert chunks == ["🇺🇸"] * 10_000
