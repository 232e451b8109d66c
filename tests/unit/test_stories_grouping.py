"""Same-story grouping: pairs that must and must not merge, the labelled files, the window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.stories import StoryCandidate, StoryGrouper
from bot.stories.cli import stories_json_lines
from bot.stories.evaluation import (
    missed_merges,
    mixed_stream_errors,
    pairwise_scores,
    parse_groups,
    unwanted_merges,
    wrong_merges,
)
from tests.support.corpus import load_story_lines

DATA = Path(__file__).resolve().parents[1] / "data" / "stories"
T0 = datetime(2025, 4, 9, 12, 0, tzinfo=UTC)


def item(
    item_id: str, title: str, hours: float = 0.0, summary: str = "", **kw: str
) -> StoryCandidate:
    return StoryCandidate(
        item_id=item_id,
        title=title,
        summary=summary,
        url=kw.get("url"),
        source=kw.get("source", ""),
        published_at=T0 + timedelta(hours=hours),
    )


def same_story(a: StoryCandidate, b: StoryCandidate) -> bool:
    grouper = StoryGrouper()
    first = grouper.assign(a)
    return grouper.assign(b) == first


MUST_MERGE = [
    ("wire-update-prefix", "China raises tariffs on US goods to 125%",
     "UPDATE 1-China raises tariffs on US goods to 125%"),
    ("refile-prefix", "Nvidia to resume H20 chip sales to China",
     "REFILE-Nvidia to resume H20 chip sales to China"),
    ("bloomberg-revision-marker", "SEC Asks Municipal Bond Sellers to Report Disclosure Breach",
     "SEC Asks Municipal Bond Sellers to Report Disclosure Breach (2)"),
    ("truncated-title", "Chiquita and Fyffes hope to become top banana in global market",
     "Chiquita and Fyffes hope to become top banana in  ..."),
    ("reworded-same-numbers", "China hits back with 125% tariffs on US goods",
     "Beijing raises tariffs on American imports to 125%"),
    ("capital-for-country", "China expands rare earth export controls",
     "Beijing expands export controls on rare earths"),
    ("uk-huawei-ban", "U.K. to Ban Huawei From 5G Networks Amid China Tensions",
     "UK bans purchase of 5G equipment from Huawei"),
    ("mt-gox", "Bitcoin exchange Mt. Gox files for US bankruptcy protection",
     "Mt. Gox files for US bankruptcy to halt class action"),
    ("outlet-suffix", "Trump hikes tariffs on Canadian goods to 35% - Reuters",
     "Trump raises tariffs on Canada to 35%"),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b"), [m[1:] for m in MUST_MERGE], ids=[m[0] for m in MUST_MERGE])
def test_must_merge(a: str, b: str) -> None:
    assert same_story(item("a", a, source="Reuters"), item("b", b, 1.0))


MUST_NOT_MERGE = [
    ("145-hike-vs-125-retaliation", "US raises tariffs on Chinese goods to 145%",
     "China raises tariffs on US goods to 125%"),
    ("same-words-other-actor", "US hits China with new tariffs on steel",
     "China hits US with new tariffs on steel"),
    ("ban-vs-lift", "US bans chip sales to Huawei", "US lifts ban on chip sales to Huawei"),
    ("ruling-vs-appeal", "Trade court strikes down Trump tariffs",
     "Trump administration appeals trade court ruling on tariffs"),
    ("trade-court-vs-appeals-court", "Trade court blocks Trump's tariffs",
     "Appeals court reinstates Trump's tariffs"),
    ("impose-vs-pause", "Trump imposes tariffs on Mexico",
     "Trump pauses tariffs on Mexico for 30 days"),
    ("different-countries", "Trump raises tariffs on Brazil to 50%",
     "Trump raises tariffs on India to 50%"),
    ("different-goods", "Trump announces 100% tariff on imported chips",
     "Trump announces 100% tariff on imported drugs"),
    ("different-company", "China opens antitrust probe into Google",
     "China opens antitrust probe into Nvidia"),
    ("raise-vs-cut", "Fed raises interest rates by a quarter point",
     "Fed cuts interest rates by a quarter point"),
    ("approve-vs-reject", "EU approves tariffs on Chinese electric cars",
     "EU rejects tariffs on Chinese electric cars"),
    ("different-dates", "Tariffs on Chinese goods take effect March 4",
     "Tariffs on Chinese goods take effect April 9"),
    ("negated", "UK bans Huawei from 5G network", "UK will not ban Huawei from 5G network"),
    ("court-blocks-the-ban", "Trump administration orders TikTok download ban",
     "Judge blocks Trump's TikTok download ban"),
    ("hearing-vs-ruling", "Supreme Court hears arguments over Trump's tariffs",
     "Supreme Court strikes down Trump's tariffs"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("a", "b"), [m[1:] for m in MUST_NOT_MERGE], ids=[m[0] for m in MUST_NOT_MERGE]
)
def test_must_not_merge(a: str, b: str) -> None:
    assert not same_story(item("a", a), item("b", b, 2.0))
    assert not same_story(item("b", b), item("a", a, 2.0))


def test_explain_names_the_conflict() -> None:
    grouper = StoryGrouper()
    why = grouper.explain(
        item("a", "US raises tariffs on Chinese goods to 145%"),
        item("b", "China raises tariffs on US goods to 125%", 20.0),
    )
    assert why["same_story"] is False
    assert any("numbers differ" in c for c in why["conflicts"])
    assert any("different actor" in c for c in why["conflicts"])
    assert "tarif" in why["shared_words"]


def test_hard_negatives_file_never_merges() -> None:
    groups = parse_groups(load_story_lines(DATA / "hard_negatives.jsonl"))
    assert len(groups) >= 40
    assert unwanted_merges(groups, StoryGrouper) == []


def test_same_story_file_always_merges() -> None:
    groups = parse_groups(load_story_lines(DATA / "same_story.jsonl"))
    assert missed_merges(groups, StoryGrouper) == []


def test_labelled_files_as_one_stream() -> None:
    negatives = parse_groups(load_story_lines(DATA / "hard_negatives.jsonl"))
    positives = parse_groups(load_story_lines(DATA / "same_story.jsonl"))
    wrong, missed = mixed_stream_errors(negatives, positives, StoryGrouper)
    assert wrong == []
    assert missed == []


def test_story_id_is_the_first_item_and_stable() -> None:
    grouper = StoryGrouper()
    assert grouper.assign(item("first", "China raises tariffs on US goods to 125%")) == "first"
    second = item("second", "UPDATE 1-China raises tariffs on US goods to 125%", 1.0)
    assert grouper.assign(second) == "first"
    assert grouper.assign(second) == "first"  # the same item again: same answer


def test_same_url_is_the_same_item_whatever_the_title() -> None:
    grouper = StoryGrouper()
    grouper.assign(item("a", "Headline one", url="https://www.example.com/story?utm_source=x"))
    b = item("b", "Totally different words", 3.0, url="https://amp.example.com/story/")
    assert grouper.assign(b) == "a"


def test_items_outside_the_window_never_merge() -> None:
    grouper = StoryGrouper(window=timedelta(hours=48))
    url = "https://www.example.com/story"
    grouper.assign(item("a", "China raises tariffs on US goods to 125%", url=url))
    late = item("b", "China raises tariffs on US goods to 125%", 49.0, url=url)
    assert grouper.assign(late) == "b"
    early = item("c", "China raises tariffs on US goods to 125%", -49.0)
    assert grouper.assign(early) == "c"


def test_repeated_daily_headline_a_day_later_is_a_new_story() -> None:
    # AP's "Business Highlights" keeps its title every day; age raises the bar.
    grouper = StoryGrouper()
    assert grouper.assign(item("mon", "Business Highlights")) == "mon"
    assert grouper.assign(item("tue", "Business Highlights", 24.0)) == "tue"


def test_prune_forgets_old_items() -> None:
    grouper = StoryGrouper()
    grouper.assign(item("a", "China raises tariffs on US goods to 125%"))
    grouper.assign(item("b", "Nvidia to resume H20 chip sales to China", 30.0))
    grouper.prune(T0 + timedelta(hours=10))
    assert len(grouper) == 1
    again = item("c", "China raises tariffs on US goods to 125%", 31.0)
    assert grouper.assign(again) == "c"
    grouper.prune(T0 + timedelta(hours=100))
    assert len(grouper) == 0


def test_pairwise_scores() -> None:
    scores = pairwise_scores(["a", "a", "a", "d"], ["x", "x", "y", "y"])
    assert scores.predicted_pairs == 3
    assert scores.gold_pairs == 2
    assert scores.true_pairs == 1
    assert scores.precision == pytest.approx(1 / 3)
    assert scores.recall == pytest.approx(1 / 2)
    assert wrong_merges(["a", "a", "a", "d"], ["x", "x", "y", "y"]) == 1


def test_stories_json_lines_contract() -> None:
    lines = [
        json.dumps({"id": "1", "title": "China raises tariffs on US goods to 125%",
                    "summary": "", "published": "2025-04-11T09:00:00Z"}),
        "",
        "not json",
        json.dumps({"id": 2, "title": "UPDATE 1-China raises tariffs on US goods to 125%",
                    "summary": "", "source": "Reuters", "url": None,
                    "published": "2025-04-11T10:00:00"}),
        json.dumps({"id": "3", "title": "no date"}),
        json.dumps(["a list"]),
        json.dumps({"id": "4", "title": "Nvidia to resume H20 chip sales to China",
                    "summary": "x", "published": 1752548400}),
    ]  # fmt: skip
    out = [json.loads(line) for line in stories_json_lines(lines)]
    assert out[0] == {"id": "1", "story": "1"}
    assert out[1]["id"] is None and "not JSON" in out[1]["error"]
    assert out[2] == {"id": "2", "story": "1"}
    assert out[3]["id"] == "3" and "published" in out[3]["error"]
    assert out[4]["id"] is None and "object" in out[4]["error"]
    assert out[5] == {"id": "4", "story": "4"}
    assert len(out) == 6


def test_stories_json_lines_prunes_on_long_input() -> None:
    # 2,500 lines over ten days: the grouper is pruned as it goes and stays small.
    grouper = StoryGrouper()
    lines = [
        json.dumps(
            {
                "id": str(n),
                "title": f"Company {n} reports results number {n}",
                "summary": "",
                "published": (T0 + timedelta(minutes=6 * n)).isoformat(),
            }
        )
        for n in range(2500)
    ]
    out = [json.loads(line) for line in stories_json_lines(lines, grouper)]
    assert [o["id"] for o in out] == [str(n) for n in range(2500)]
    assert all("story" in o for o in out)
    assert len(grouper) < 2500


def test_remember_restores_known_stories_after_a_restart() -> None:
    before = StoryGrouper()
    first = item("x1", "China raises tariffs on US goods to 125%")
    second = item("x2", "Beijing raises tariffs on American imports to 125%", 1.0)
    assert before.assign(first) == "x1"
    assert before.assign(second) == "x1"
    after = StoryGrouper()
    after.remember(first, "x1")
    after.remember(second, "x1")
    third = item("x3", "China hits back with 125% tariffs on US goods", 2.0)
    assert after.assign(third) == "x1"
    assert after.assign(second) == "x1"
