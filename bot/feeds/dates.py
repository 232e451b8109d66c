"""PURE: item dates feedparser cannot read, so such items can still be aged.

feedparser reads RFC 822, ISO 8601 and a dozen other English-centred forms. Real
feeds also write RFC 822 with the day and month names of their own language
(Italian "mer, 16 nov 2022 00:38:15 +0100", Portuguese "Seg, 24 Set 2018 19:42:40
-0300") and the US long form ("Friday, January 29, 2021 04:42 PM"). An undated item
cannot be held back by `max_item_age`, so an old article would alert as new.

Only called when feedparser found no date; anything not understood gives None.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

MAX_INPUT = 100  # a date is short; anything longer is not one we can trust

# Month names by prefix, after lower-casing and stripping accents (févr -> fevr,
# März -> marz). Four-letter prefixes are tried first: French "juin"/"juil" share "jui".
_MONTHS_4 = {"juin": 6, "juil": 7, "maar": 3}
_MONTHS_3 = {
    # English, German, Dutch
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "oct": 10, "nov": 11, "dec": 12, "mai": 5, "okt": 10, "dez": 12, "mei": 5,
    "mrt": 3,
    # Italian
    "gen": 1, "mag": 5, "giu": 6, "lug": 7, "ago": 8, "set": 9, "ott": 10, "dic": 12,
    # Spanish, Portuguese
    "ene": 1, "abr": 4, "out": 10, "fev": 2,
    # French (janv, fevr, mars, juin, juil, sept, dec are covered above)
    "avr": 4, "aou": 8,
}
_ZONES = {
    "z": 0, "ut": 0, "utc": 0, "gmt": 0, "wet": 0, "bst": 60, "cet": 60, "cest": 120,
    "met": 60, "mest": 120, "mez": 60, "mesz": 120, "eet": 120, "eest": 180, "msk": 180,
    "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360,
    "pst": -480, "pdt": -420, "et": -300, "ct": -360, "mt": -420, "pt": -480,
    "jst": 540, "kst": 540, "hkt": 480, "sgt": 480,
    "aest": 600, "aedt": 660,
}
_TIME = (r"(?P<hour>\d{1,2})[:.h](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?"
         r"\s*(?P<ampm>[ap]\.?m\.?)?")
_ZONE = r"(?P<zone>[+-]\d{2}:?\d{2}|[a-z]{1,5})?"
_WEEKDAY = r"(?:[a-z]+\.?,?\s+)?"
# "16 nov 2022 00:38:15 +0100", "24 de setembro de 2018 19:42" (weekday optional)
_DAY_FIRST = re.compile(
    rf"^{_WEEKDAY}(?P<day>\d{{1,2}})\.?\s+(?:de\s+)?(?P<month>[a-z]+)\.?,?\s+(?:de\s+)?"
    rf"(?P<year>\d{{4}})(?:,?\s+(?:a\s+las\s+|um\s+|a\s+)?{_TIME})?\s*{_ZONE}$")
# "January 29, 2021 04:42 PM" (weekday optional)
_MONTH_FIRST = re.compile(
    rf"^{_WEEKDAY}(?P<month>[a-z]+)\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})"
    rf"(?:,?\s+(?:at\s+)?{_TIME})?\s*{_ZONE}$")


def parse_loose_date(text: str | None) -> datetime | None:
    """A UTC datetime from a date string in one of the forms above, or None.
    A date without a zone is taken as UTC, as feedparser does."""
    if not text or len(text) > MAX_INPUT:
        return None
    folded = _fold(text)
    for pattern in (_DAY_FIRST, _MONTH_FIRST):
        found = pattern.match(folded)
        if found:
            return _build(found)
    return None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", plain)


def _month(name: str) -> int | None:
    return _MONTHS_4.get(name[:4]) or _MONTHS_3.get(name[:3])


def _offset(zone: str | None) -> timedelta | None:
    """The zone's offset from UTC; an unknown zone name counts as UTC (hours off
    still ages an item right; no date at all would not age it)."""
    if not zone:
        return timedelta(0)
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 14 or minutes >= 60:
            return None
        minutes += hours * 60
        return timedelta(minutes=-minutes if zone[0] == "-" else minutes)
    return timedelta(minutes=_ZONES.get(zone, 0))


def _build(found: re.Match[str]) -> datetime | None:
    month = _month(found["month"])
    offset = _offset(found["zone"])
    if month is None or offset is None:
        return None
    hour = int(found["hour"] or 0)
    ampm = (found["ampm"] or "").replace(".", "")
    if ampm and not 1 <= hour <= 12:
        return None
    if ampm == "pm" and hour != 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    try:
        local = datetime(int(found["year"]), month, int(found["day"]), hour,
                         int(found["minute"] or 0), int(found["second"] or 0),
                         tzinfo=timezone(offset))
        return local.astimezone(UTC)
    except (ValueError, OverflowError):  # 31 February, hour 25, year 1 at +01:00...
        return None
