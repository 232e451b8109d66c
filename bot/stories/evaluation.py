"""Pairwise precision/recall of a story assignment against gold labels. Pure.

Pairwise metrics count, over all pairs of items, the pairs put in the same story
(predicted) and the pairs that are in the same gold story; they weigh large
stories heavily (a story of n items holds n*(n-1)/2 pairs), which is the point:
splitting one big story in two halves loses half of its pairs.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.stories.cli import parse_line
from bot.stories.grouping import StoryCandidate, StoryGrouper


@dataclass(frozen=True, slots=True)
class PairwiseScores:
    precision: float
    recall: float
    f1: float
    predicted_pairs: int
    gold_pairs: int
    true_pairs: int


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(predicted: Sequence[str], gold: Sequence[str]) -> PairwiseScores:
    """Scores of `predicted` story ids against `gold` labels, item by item."""
    if len(predicted) != len(gold):
        raise ValueError("predicted and gold must label the same items")
    both: Counter[tuple[str, str]] = Counter(zip(predicted, gold, strict=True))
    predicted_pairs = sum(_pairs(n) for n in Counter(predicted).values())
    gold_pairs = sum(_pairs(n) for n in Counter(gold).values())
    true_pairs = sum(_pairs(n) for n in both.values())
    precision = true_pairs / predicted_pairs if predicted_pairs else 1.0
    recall = true_pairs / gold_pairs if gold_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScores(precision, recall, f1, predicted_pairs, gold_pairs, true_pairs)


def wrong_merges(predicted: Iterable[str], gold: Iterable[str]) -> int:
    """Items that joined a predicted story whose first item has another gold label."""
    first_label: dict[str, str] = {}
    count = 0
    for story, label in zip(predicted, gold, strict=True):
        if story in first_label:
            count += first_label[story] != label
        else:
            first_label[story] = label
    return count


@dataclass(frozen=True, slots=True)
class LabelledGroup:
    """A labelled set of items: all one story (positives) or all distinct (negatives).

    `events` names, per item, the real-world event when the same event also
    appears in another group (a hard negative's side that is a positive elsewhere).
    """

    id: str
    note: str
    items: tuple[StoryCandidate, ...]
    events: tuple[str | None, ...]


def parse_groups(lines: Iterable[str]) -> list[LabelledGroup]:
    """Groups from JSON lines {"id", "note"?, "items": [<newsbot stories input>...]}."""
    groups: list[LabelledGroup] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        data = json.loads(line)
        try:
            raw_items = list(data["items"])
            items = tuple(parse_line(json.dumps(item)) for item in raw_items)
            events = tuple(item.get("event") for item in raw_items)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"line {number}: {exc}") from None
        groups.append(LabelledGroup(str(data["id"]), str(data.get("note", "")), items, events))
    return groups


def _in_time_order(items: Iterable[StoryCandidate]) -> list[StoryCandidate]:
    return sorted(items, key=lambda c: c.published_at)


def unwanted_merges(
    groups: Sequence[LabelledGroup], make_grouper: Callable[[], StoryGrouper]
) -> list[str]:
    """Hard negatives: each group in a fresh grouper; every item that joins another's story."""
    found: list[str] = []
    for group in groups:
        grouper = make_grouper()
        titles: dict[str, str] = {}
        for c in _in_time_order(group.items):
            story = grouper.assign(c)
            titles[c.item_id] = c.title
            if story != c.item_id:
                found.append(f"{group.id}: {c.title!r} joined {titles.get(story, story)!r}")
    return found


def missed_merges(
    groups: Sequence[LabelledGroup], make_grouper: Callable[[], StoryGrouper]
) -> list[str]:
    """Positives: each group in a fresh grouper; every item not in the first item's story."""
    found: list[str] = []
    for group in groups:
        grouper = make_grouper()
        ordered = _in_time_order(group.items)
        stories = [grouper.assign(c) for c in ordered]
        found.extend(
            f"{group.id}: {c.title!r} not with {ordered[0].title!r}"
            for c, story in zip(ordered, stories, strict=True)
            if story != stories[0]
        )
    return found


def mixed_stream_errors(
    negatives: Sequence[LabelledGroup],
    positives: Sequence[LabelledGroup],
    make_grouper: Callable[[], StoryGrouper],
) -> tuple[list[str], list[str]]:
    """All labelled items in one stream, in time order: (wrong merges, missed joins).

    Only relations the files state are judged: items of one hard-negative group
    are different events, positive groups are one event each, and `event` labels
    tie items across groups. Two unrelated hard-negative items may share a story
    without counting (e.g. two market reactions to one announcement).
    """
    event: dict[str, str] = {}
    negative_group: dict[str, str] = {}
    for group in negatives:
        for c, name in zip(group.items, group.events, strict=True):
            negative_group[c.item_id] = group.id
            if name:
                event[c.item_id] = name
    for group in positives:
        for c, name in zip(group.items, group.events, strict=True):
            event[c.item_id] = name or group.id

    def different(a: str, b: str) -> bool:
        if a in event and b in event:
            return event[a] != event[b]
        return negative_group.get(a) is not None and negative_group.get(a) == negative_group.get(b)

    items = _in_time_order(c for g in (*negatives, *positives) for c in g.items)
    grouper = make_grouper()
    members: dict[str, list[StoryCandidate]] = {}
    story_of: dict[str, str] = {}
    wrong: list[str] = []
    for c in items:
        story = grouper.assign(c)
        story_of[c.item_id] = story
        clash = [m for m in members.get(story, []) if different(c.item_id, m.item_id)]
        if clash:
            wrong.append(f"{c.title!r} joined {clash[0].title!r}")
        members.setdefault(story, []).append(c)
    missed: list[str] = []
    for group in positives:
        first = group.items[0]
        missed.extend(
            f"{group.id}: {c.title!r} not with {first.title!r}"
            for c in group.items[1:]
            if story_of[c.item_id] != story_of[first.item_id]
        )
    return wrong, missed


def parse_story_clusters(lines: Iterable[str]) -> list[tuple[StoryCandidate, str]]:
    """The UCI News Aggregator CSV (ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,TIMESTAMP)
    -> (candidate, gold story) in feed order: by TIMESTAMP (ms since the epoch), then ID.

    Titles only: the set has no summaries. URLs are left out on purpose, so the
    evaluation measures headline grouping rather than exact-URL duplicates.
    """
    rows = list(csv.DictReader(lines))
    rows.sort(key=lambda r: (int(r["TIMESTAMP"]), int(r["ID"])))
    return [
        (
            StoryCandidate(
                item_id=r["ID"],
                title=r["TITLE"],
                summary="",
                url=None,
                source=r["PUBLISHER"],
                published_at=datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, UTC),
            ),
            r["STORY"],
        )
        for r in rows
    ]


def evaluate_clusters(
    labelled: Sequence[tuple[StoryCandidate, str]], grouper: StoryGrouper
) -> PairwiseScores:
    """Feed the items in order through `grouper` and score against the gold stories."""
    predicted = [grouper.assign(c) for c, _ in labelled]
    return pairwise_scores(predicted, [gold for _, gold in labelled])
