"""PURE: compare what topics matched (as recorded live) with what a config's
matcher says now, over the same stored items, so an operator can judge a query
change before applying it (`newsbot backtest`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.matching import Matcher

SHOW_TITLES = 10


@dataclass(frozen=True, slots=True)
class StoredMatchInput:
    item_id: int
    title: str
    summary: str
    weight: float
    recorded: frozenset[str]  # topic slugs matched when the item arrived


@dataclass(slots=True)
class TopicDiff:
    slug: str
    before: int = 0
    after: int = 0
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def backtest(items: Iterable[StoredMatchInput], matcher: Matcher,
             topic_order: Sequence[str]) -> list[TopicDiff]:
    diffs: dict[str, TopicDiff] = {slug: TopicDiff(slug) for slug in topic_order}
    for item in items:
        now = {m.slug for m in matcher.match(item.title, item.summary, item.weight)}
        for slug in item.recorded | now:
            diff = diffs.setdefault(slug, TopicDiff(slug))
            if slug in item.recorded:
                diff.before += 1
            if slug in now:
                diff.after += 1
            if slug in now and slug not in item.recorded:
                diff.gained.append(item.title)
            elif slug in item.recorded and slug not in now:
                diff.lost.append(item.title)
    return list(diffs.values())


def format_backtest(diffs: Sequence[TopicDiff], items_seen: int, since: str) -> str:
    lines = [f"{items_seen} stored items since {since}", "",
             f"{'topic':<24}{'before':>8}{'after':>8}{'gained':>8}{'lost':>8}"]
    for d in diffs:
        lines.append(f"{d.slug:<24}{d.before:>8}{d.after:>8}{len(d.gained):>8}{len(d.lost):>8}")
    for d in diffs:
        for label, titles in (("gained", d.gained), ("lost", d.lost)):
            if titles:
                lines.append(f"\n{d.slug}: {label} {len(titles)}")
                lines += [f"  + {t[:120]}" if label == "gained" else f"  - {t[:120]}"
                          for t in titles[:SHOW_TITLES]]
                if len(titles) > SHOW_TITLES:
                    lines.append(f"  ... and {len(titles) - SHOW_TITLES} more")
    return "\n".join(lines)
