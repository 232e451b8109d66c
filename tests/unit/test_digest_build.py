"""bot.digest.build: ranking, per-topic cuts, mutes, one place per story."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.digest.build import (
    DigestSection,
    DigestStory,
    build_digest,
    importance,
    outlet_count,
)

NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)
TOPICS = [("tariffs", "Tariffs"), ("rare-earths", "Rare earths"), ("visas", "Student visas")]


def story(key: str, *, title: str | None = None, topics: tuple[str, ...] = ("tariffs",),
          outlets: int = 1, title_hit: bool = False, score: float = 2.0,
          hours_ago: float = 1.0, summary: str = "") -> DigestStory:
    names = ("Reuters", "AP", "BBC", "CNBC", "SCMP", "DW", "El País", "NYT")[:outlets]
    seen = NOW - timedelta(hours=hours_ago)
    return DigestStory(
        story_key=key, title=title or f"Story {key}", url=f"https://example.org/{key}",
        source=names[0], sources=names, published_at=seen, first_seen_at=seen,
        topics=topics, title_hit=title_hit, score=score, summary=summary,
    )


def keys(sections: list[DigestSection]) -> dict[str, list[str]]:
    return {s.slug: [st.story_key for st in s.stories] for s in sections}


# (id, stories, expected order of keys under "tariffs")
RANKING = [
    ("more-outlets-first",
     [story("one", outlets=1), story("four", outlets=4), story("two", outlets=2)],
     ["four", "two", "one"]),
    ("title-hit-beats-summary-hit",
     [story("summary"), story("title", title_hit=True)], ["title", "summary"]),
    ("higher-score-breaks-a-tie", [story("low", score=1), story("high", score=6)],
     ["high", "low"]),
    ("recent-breaks-a-tie", [story("old", hours_ago=20), story("new", hours_ago=1)],
     ["new", "old"]),
    ("two-outlets-a-day-old-beat-one-fresh-outlet",
     [story("fresh", hours_ago=0), story("covered", outlets=2, hours_ago=23)],
     ["covered", "fresh"]),
    ("fresh-title-hit-beats-old-two-outlet-story",
     [story("fresh", title_hit=True, hours_ago=0), story("covered", outlets=2, hours_ago=23)],
     ["fresh", "covered"]),
    ("full-tie-is-stable-by-key", [story("b"), story("a"), story("c")], ["a", "b", "c"]),
]


@pytest.mark.parametrize(("stories", "expected"), [case[1:] for case in RANKING],
                         ids=[case[0] for case in RANKING])
def test_ranking(stories: list[DigestStory], expected: list[str]) -> None:
    sections = build_digest(stories, TOPICS, [], NOW, per_topic=10)
    assert keys(sections) == {"tariffs": expected}


def test_importance_formula() -> None:
    """The documented formula, term by term."""
    fresh = story("s", outlets=3, title_hit=True, score=3.0, hours_ago=12)
    assert importance(fresh, NOW) == pytest.approx(3 * math.log2(4) + 1.5 + 0.5 + 0.5)
    plain = story("p", outlets=1, score=0.0, hours_ago=0)
    assert importance(plain, NOW) == pytest.approx(3.0 + 0 + 0 + 1)


@pytest.mark.parametrize("score", [float("nan"), float("-inf"), -5.0, 0.0],
                         ids=["nan", "minus-inf", "negative", "zero"])
def test_bad_scores_count_as_zero(score: float) -> None:
    assert importance(story("s", score=score, hours_ago=0), NOW) == pytest.approx(4.0)


def test_future_and_naive_times_do_not_break_ranking() -> None:
    future = replace(story("future"), published_at=NOW + timedelta(days=3))
    naive = replace(story("naive"), published_at=datetime(2026, 11, 27, 7))  # read as UTC
    unknown = replace(story("unknown", hours_ago=2), published_at=None)
    ancient = replace(story("ancient"), published_at=datetime(1, 1, 1, tzinfo=UTC))
    sections = build_digest([ancient, unknown, naive, future], TOPICS, [], NOW)
    assert keys(sections) == {"tariffs": ["future", "naive", "unknown", "ancient"]}


@pytest.mark.parametrize(("sources", "expected"), [
    (("Reuters",), 1),
    (("Reuters", "reuters ", "AP"), 2),
    ((), 1),
    (("", "  "), 1),
    (("Reuters", "AP", "BBC", "DW"), 4),
], ids=["one", "case-and-space-duplicates", "none-listed", "blank-names", "four"])
def test_outlet_count(sources: tuple[str, ...], expected: int) -> None:
    assert outlet_count(replace(story("s"), source=(sources or ("",))[0], sources=sources)) \
        == expected


# (id, per_topic, stories, expected shown keys, expected more)
CUTS = [
    ("under-the-cut", 5, 3, 3, 0),
    ("exactly-n", 5, 5, 5, 0),
    ("over-the-cut", 5, 12, 5, 7),
    ("one-per-topic", 1, 4, 1, 3),
]


@pytest.mark.parametrize(("per_topic", "count", "shown", "more"), [c[1:] for c in CUTS],
                         ids=[c[0] for c in CUTS])
def test_per_topic_cut(per_topic: int, count: int, shown: int, more: int) -> None:
    stories = [story(f"s{i:02}", outlets=1 + i % 4, hours_ago=i) for i in range(count)]
    [section] = build_digest(stories, TOPICS, [], NOW, per_topic=per_topic)
    assert len(section.stories) == shown
    assert section.more == more
    ranked = sorted(stories, key=lambda s: -importance(s, NOW))
    assert list(section.stories) == ranked[:shown]


def test_per_topic_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_topic"):
        build_digest([story("s")], TOPICS, [], NOW, per_topic=0)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        build_digest([story("s")], TOPICS, [], datetime(2026, 11, 27, 8))


def test_sections_follow_config_order_and_empty_ones_are_dropped() -> None:
    stories = [story("v", topics=("visas",)), story("t", topics=("tariffs",))]
    sections = build_digest(stories, TOPICS, [], NOW)
    assert [(s.slug, s.name) for s in sections] == [("tariffs", "Tariffs"),
                                                    ("visas", "Student visas")]


# (id, story topics, chat topics, expected placement)
PLACEMENT = [
    ("first-chat-topic-in-config-order", ("visas", "tariffs"), TOPICS, "tariffs"),
    ("story-topic-order-does-not-matter", ("rare-earths", "visas"), TOPICS, "rare-earths"),
    ("only-topics-the-chat-follows", ("tariffs", "visas"), [("visas", "Student visas")], "visas"),
    ("unfollowed-topics-only-dropped", ("export-controls",), TOPICS, None),
]


@pytest.mark.parametrize(("story_topics", "chat_topics", "placed"), [c[1:] for c in PLACEMENT],
                         ids=[c[0] for c in PLACEMENT])
def test_multi_topic_story_is_placed_once(story_topics: tuple[str, ...],
                                          chat_topics: list[tuple[str, str]],
                                          placed: str | None) -> None:
    sections = build_digest([story("s", topics=story_topics)], chat_topics, [], NOW)
    assert keys(sections) == ({placed: ["s"]} if placed else {})


def test_rows_of_one_story_are_merged() -> None:
    """The store may give one row per matched topic: the story still appears once, and
    what each row knows is combined."""
    first = replace(story("s", topics=("visas",), score=1.0), sources=("Reuters",))
    second = replace(story("s", topics=("tariffs",), title_hit=True, score=4.0),
                     sources=("Reuters", "AP"))
    [section] = build_digest([first, second], TOPICS, [], NOW)
    assert section.slug == "tariffs"
    [merged] = section.stories
    assert merged.topics == ("visas", "tariffs")
    assert merged.sources == ("Reuters", "AP")
    assert merged.title_hit and merged.score == 4.0


# (id, title, summary, mutes, muted?)
MUTES = [
    ("whole-word", "Bitcoin miners hit by tariffs", "", ["bitcoin"], True),
    ("not-inside-a-word", "Bitcoinist reports tariffs", "", ["bitcoin"], False),
    ("case-folded", "BITCOIN and tariffs", "", ["Bitcoin"], True),
    ("nfkc-full-width", "ＢＩＴＣＯＩＮ tariffs", "", ["bitcoin"], True),
    ("phrase", "Tariffs on electric vehicles rise", "", ["electric  vehicles"], True),
    ("summary-counts", "Tariffs rise", "Analysts blame bitcoin", ["bitcoin"], True),
    ("cjk-substring", "美国对中国稀土加征关税", "", ["稀土"], True),
    ("cjk-no-match", "美国对中国加征关税", "", ["稀土"], False),
    ("no-mutes", "Bitcoin", "", [], False),
    ("blank-mute-ignored", "Tariffs rise", "", ["  "], False),
]


@pytest.mark.parametrize(("title", "summary", "mutes", "muted"), [c[1:] for c in MUTES],
                         ids=[c[0] for c in MUTES])
def test_mutes(title: str, summary: str, mutes: list[str], muted: bool) -> None:
    stories = [story("m", title=title, summary=summary), story("keep", title="Other news")]
    sections = build_digest(stories, TOPICS, mutes, NOW)
    shown = keys(sections)["tariffs"]
    assert ("m" not in shown) is muted
    assert "keep" in shown


def test_muted_stories_are_not_counted_in_more() -> None:
    stories = [story(f"s{i}", title=f"Bitcoin story {i}") for i in range(4)]
    stories += [story(f"t{i}") for i in range(2)]
    [section] = build_digest(stories, TOPICS, ["bitcoin"], NOW, per_topic=1)
    assert section.more == 1


def test_everything_muted_means_no_sections() -> None:
    assert build_digest([story("s", title="Bitcoin")], TOPICS, ["bitcoin"], NOW) == []
