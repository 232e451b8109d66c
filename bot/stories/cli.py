"""`newsbot stories`: JSON lines in, one story id per line out. Pure (no I/O of its own).

Input lines: {"id", "title", "summary", "url"?, "source"?, "published"}; `published`
is ISO 8601 (a naive time is taken as UTC) or seconds since the epoch. Output,
one line per input line, in order: {"id", "story"} where story is the id of the
first item of the same story, or {"id", "error"} for a line that cannot be used
(the id is null when the line has none). Blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.stories.grouping import StoryCandidate, StoryGrouper

# Prune the grouper every so many lines, keeping two windows behind the newest
# item so that items arriving somewhat out of order still find their story.
_PRUNE_EVERY = 1000


class StoryLine(BaseModel):
    """One input line, validated at the edge."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str
    title: str
    summary: str = ""
    url: str | None = None
    source: str = ""
    published: datetime

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        # Ids are opaque; accept numbers but keep them as text in the output.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("summary", "source", mode="before")
    @classmethod
    def _none_as_empty(cls, value: object) -> object:
        return "" if value is None else value

    def candidate(self) -> StoryCandidate:
        published = self.published
        if published.tzinfo is None:
            published = published.replace(tzinfo=UTC)
        return StoryCandidate(
            item_id=self.id,
            title=self.title,
            summary=self.summary,
            url=self.url or None,
            source=self.source,
            published_at=published.astimezone(UTC),
        )


def parse_line(line: str) -> StoryCandidate:
    """One JSON line -> candidate; raises ValueError with a readable message."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    try:
        return StoryLine.model_validate(data).candidate()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(problems) from None


def stories_json_lines(lines: Iterable[str], grouper: StoryGrouper | None = None) -> Iterator[str]:
    """Assign each input line to a story; yields one JSON line per non-blank input."""
    grouper = grouper or StoryGrouper()
    newest: datetime | None = None
    count = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            candidate = parse_line(line)
        except ValueError as exc:
            yield json.dumps({"id": _loose_id(line), "error": str(exc)}, ensure_ascii=False)
            continue
        story = grouper.assign(candidate)
        yield json.dumps({"id": candidate.item_id, "story": story}, ensure_ascii=False)
        if newest is None or candidate.published_at > newest:
            newest = candidate.published_at
        count += 1
        if count % _PRUNE_EVERY == 0:
            grouper.prune(newest - 2 * grouper.window)


def _loose_id(line: str) -> str | None:
    # Echo the id of an invalid line when there is one, so the caller can match it up.
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    return None


__all__ = ["StoryLine", "parse_line", "stories_json_lines"]
