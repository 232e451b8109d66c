"""What goes into one chat's digest: stories grouped by topic and ranked by importance.

Owns the digest's story model (`DigestStory`, `DigestSection`), the merging of rows that
describe the same story, the chat's mutes, the placement of each story under exactly one
topic, and the ranking formula:

    importance = 3.0 * log2(1 + outlets)          1 outlet 3.0, 2: 4.75, 4: 6.97, 8: 9.51
               + 1.5 if a topic matched the title
               + score / (score + 3)               matcher score, saturating in [0, 1)
               + 0.5 ** (age / 12 h)               recency in (0, 1]: 1 now, 0.25 a day ago

Outlets dominate (a story several newsrooms carried is the day's news), a title hit is
worth about one extra outlet, and score and recency order stories of equal coverage. The
age is taken from `published_at` when the feed gave one, else `first_seen_at`, never
below zero. Ties: the more recent story first, then by `story_key`, so the order is stable.

A story that matches several of the chat's topics is listed once, under the first of them
in config order (the order of `topics`), so a digest never shows the same story twice.

PURE: no I/O, no clock (`now` is a parameter), no environment. Must not render, fetch
from the store or decide when a digest is due.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.chat_settings import is_muted, normalise_term
from bot.text.chars import clean_chars, fold_line

__all__ = [
    "DEFAULT_PER_TOPIC", "DigestSection", "DigestStory", "build_digest", "importance",
    "outlet_count", "story_time",
]

DEFAULT_PER_TOPIC = 5
OUTLET_WEIGHT = 3.0
TITLE_HIT_BONUS = 1.5
SCORE_HALF = 3.0  # the matcher score that earns half of the score term
RECENCY_HALF_LIFE = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class DigestStory:
    """One story as the digest sees it (the store's rows, folded per story).

    `sources` lists every outlet that reported it, the first source first; `topics` are
    the slugs it matched; `title_hit` says a topic matched in the title; `score` is the
    best matcher score. `summary` is only read for mutes, as for instant alerts.
    """

    story_key: str
    title: str
    url: str | None
    source: str
    sources: tuple[str, ...]
    published_at: datetime | None
    first_seen_at: datetime
    topics: tuple[str, ...]
    title_hit: bool
    score: float
    summary: str = ""


@dataclass(frozen=True, slots=True)
class DigestSection:
    """One topic's part of a digest: its best stories and how many more there were."""

    slug: str
    name: str
    stories: tuple[DigestStory, ...]
    more: int


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def outlet_count(story: DigestStory) -> int:
    """Distinct outlets (case-insensitive, blank names ignored), at least 1."""
    names = {fold_line(clean_chars(name)).casefold() for name in (story.source, *story.sources)}
    names.discard("")
    return max(1, len(names))


def story_time(story: DigestStory) -> datetime:
    """The time shown for and ranked by: published if the feed said, else first seen."""
    return _aware(story.published_at if story.published_at is not None
                  else story.first_seen_at)


def importance(story: DigestStory, now: datetime) -> float:
    """The ranking formula of the module docstring; higher is more important."""
    score = story.score if math.isfinite(story.score) and story.score > 0 else 0.0
    age = max(now - story_time(story), timedelta(0))
    return (
        OUTLET_WEIGHT * math.log2(1 + outlet_count(story))
        + (TITLE_HIT_BONUS if story.title_hit else 0.0)
        + score / (score + SCORE_HALF)
        + math.pow(0.5, age / RECENCY_HALF_LIFE)
    )


def _merge(first: DigestStory, other: DigestStory) -> DigestStory:
    """Two rows of one story (e.g. one per matched topic): union of what each knows."""
    published = [t for t in (first.published_at, other.published_at) if t is not None]
    return replace(
        first,
        sources=tuple(dict.fromkeys((*first.sources, *other.sources))),
        published_at=min(published, key=_aware) if published else None,
        first_seen_at=min(first.first_seen_at, other.first_seen_at, key=_aware),
        topics=tuple(dict.fromkeys((*first.topics, *other.topics))),
        title_hit=first.title_hit or other.title_hit,
        score=max(first.score, other.score),
    )


def _merged(stories: Iterable[DigestStory]) -> list[DigestStory]:
    by_key: dict[str, DigestStory] = {}
    for story in stories:
        known = by_key.get(story.story_key)
        by_key[story.story_key] = story if known is None else _merge(known, story)
    return list(by_key.values())


def build_digest(stories: Sequence[DigestStory], topics: Sequence[tuple[str, str]],
                 mutes: Sequence[str], now: datetime,
                 per_topic: int = DEFAULT_PER_TOPIC) -> list[DigestSection]:
    """The chat's digest: one section per topic that has stories, in the order of `topics`
    ((slug, display name) pairs of the chat's topics in config order), each with its
    `per_topic` most important stories and the count of the rest.

    Stories matching none of `topics`, and stories with a muted term in the title or
    summary (`bot.chat_settings.is_muted`: NFKC, case-folded, whole words, substrings in
    CJK), are left out. Rows with the same `story_key` are merged first.
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be an aware datetime, got naive {now!r}")
    if per_topic < 1:
        raise ValueError(f"per_topic must be at least 1, got {per_topic}")
    names: dict[str, str] = {}
    for slug, name in topics:
        names.setdefault(slug, name)
    rank = {slug: index for index, slug in enumerate(names)}
    terms = tuple(dict.fromkeys(t for t in (normalise_term(m) for m in mutes) if t))

    buckets: dict[str, list[DigestStory]] = {slug: [] for slug in names}
    for story in _merged(stories):
        placed = min((s for s in story.topics if s in rank), key=rank.__getitem__, default=None)
        if placed is None or is_muted(story.title, story.summary, terms):
            continue
        buckets[placed].append(story)

    def order(story: DigestStory) -> tuple[float, float, str]:
        return (-importance(story, now), -story_time(story).timestamp(), story.story_key)

    sections: list[DigestSection] = []
    for slug, bucket in buckets.items():
        if not bucket:
            continue
        ranked = sorted(bucket, key=order)
        sections.append(DigestSection(slug=slug, name=names[slug],
                                      stories=tuple(ranked[:per_topic]),
                                      more=len(ranked) - min(len(ranked), per_topic)))
    return sections
