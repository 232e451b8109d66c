"""PURE: validating and applying per-chat settings (time zones, quiet hours,
pauses, mute terms). Inputs come from Telegram users: everything is bounded and
checked here, with helpful messages, before the store sees it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.durations import parse_duration

MAX_MUTES = 50
MAX_MUTE_LEN = 100
MAX_PAUSE = timedelta(days=30)
MODES = ("instant", "digest", "both")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SettingError(ValueError):
    """A user's value is not acceptable; the message is shown to them."""


@cache
def _zones() -> dict[str, str]:
    return {z.lower(): z for z in available_timezones()}


def parse_timezone(text: str) -> str:
    """An IANA zone name, case-insensitively; near misses get suggestions."""
    value = text.strip().replace(" ", "_")[:64]
    canonical = _zones().get(value.lower())
    if canonical:
        try:
            ZoneInfo(canonical)
        except (ZoneInfoNotFoundError, ValueError):
            canonical = None
    if canonical:
        return canonical
    lowered = value.lower()
    names = list(_zones())
    close = difflib.get_close_matches(lowered, names, n=3, cutoff=0.6)
    # "Madrid" should find "Europe/Madrid": also match on the city part.
    cities = {n.rsplit("/", 1)[-1]: n for n in names}
    close += [cities[c] for c in difflib.get_close_matches(lowered, list(cities), n=3,
                                                           cutoff=0.75)]
    suggestions = list(dict.fromkeys(_zones()[n] for n in close))[:3]
    hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else (
        " Use a name like Europe/Madrid, America/New_York or Asia/Shanghai.")
    raise SettingError(f"Unknown time zone '{value}'.{hint}")


def parse_clock(text: str) -> time:
    match = _CLOCK.match(text.strip())
    if not match:
        raise SettingError(f"'{text.strip()[:20]}' is not a time of day: use HH:MM, e.g. 08:00.")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight

    def end_after(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The first end of quiet hours after `now` (aware), as an aware UTC-comparable time."""
        local = now.astimezone(zone)
        candidate = datetime.combine(local.date(), self.end, tzinfo=zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return candidate


def parse_quiet_hours(text: str) -> QuietHours:
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise SettingError("Use a range like 23:00-07:00 (or /quiet off).")
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start == end:
        raise SettingError("Quiet hours must start and end at different times.")
    return QuietHours(start, end)


def quiet_hours_from_db(value: str | None) -> QuietHours | None:
    if not value:
        return None
    try:
        return parse_quiet_hours(value)
    except SettingError:
        return None


def parse_pause(text: str) -> timedelta:
    try:
        delta = parse_duration(text.strip()[:20])
    except ValueError:
        raise SettingError(f"'{text.strip()[:20]}' is not a duration: use e.g. 30m, 2h, 1d."
                           ) from None
    if delta <= timedelta(0) or delta > MAX_PAUSE:
        raise SettingError("Pause for between 1 minute and 30 days.")
    return delta


def normalise_term(text: str) -> str:
    """How mute terms are stored and compared: NFKC, case-folded, spaces folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split())[:MAX_MUTE_LEN]


def parse_mute(text: str) -> str:
    term = normalise_term(text.strip().strip('"\''))
    if len(term) < 2:
        raise SettingError("Give a word or phrase to mute, e.g. /mute bitcoin.")
    return term


def is_muted(title: str, summary: str, terms: tuple[str, ...]) -> str | None:
    """The first muted term found in the item (whole words for spaced scripts), or None."""
    if not terms:
        return None
    text = normalise_term(f"{title} {summary}")
    for term in terms:
        if _contains_word(text, term):
            return term
    return None


def _contains_word(text: str, term: str) -> bool:
    start = text.find(term)
    while start != -1:
        end = start + len(term)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not _word_char(before) and not _word_char(after):
            return True
        start = text.find(term, start + 1)
    return False


def _word_char(char: str) -> bool:
    # Unspaced scripts (CJK) have no word boundaries: next to them a substring is a hit.
    return char.isalnum() and unicodedata.east_asian_width(char) not in ("W", "F")
