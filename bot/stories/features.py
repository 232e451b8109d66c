"""What one headline says, as comparable features. Pure.

Two headlines can share most of their words and still report different events:
"US raises tariffs on China to 145%" and "China raises tariffs on US goods to
125%". The features here are the signals that tell such pairs apart: numbers
with their units, dates, countries (with capitals, demonyms and leaders folded
in), the actor (the country that acts), verbs of direction with their polarity
(raise/cut, impose/lift, approve/reject...), legal stage (ruling vs appeal),
which court, the goods concerned, and names (companies, people, products).
They are taken from the title only: lead paragraphs often recap
earlier steps ("after the US raised tariffs to 145%...") and would add false
conflicts. Lead text only feeds word overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.stories import lexicon as lx
from bot.stories.text import STOPWORDS, clean_title, plain_words, stem, words


@dataclass(frozen=True, slots=True)
class Features:
    """Everything the decision compares about one item; built once per item."""

    key: str  # cleaned title, lower-case words joined: equal keys are the same headline
    title: frozenset[str]  # stems of informative title words
    lead: frozenset[str]  # stems of informative lead words not already in the title
    numbers: frozenset[tuple[str, float]]  # (unit, value): ("pct", 145.0), ("usd", 1.8e9)
    dates: frozenset[str]  # "month:4", "day:4-9", "weekday:tuesday"
    countries: frozenset[str]
    actor: str | None  # the country acting on a direction verb, if the title says
    stances: frozenset[tuple[str, int]]  # (axis, polarity) after negation
    courts: frozenset[str]
    sectors: frozenset[str]  # goods named: chips, drugs, steel...
    entities: frozenset[str]  # names: capitalised words of a sentence-case title, H20, AMD
    legal_stage: str | None  # "appeal", "lawsuit", "hearing", "ruling" when about a case
    truncated: bool


def extract_features(title: str, summary: str = "", source: str = "") -> Features:
    """Features of one item. Never raises on odd text; empty input gives empty features."""
    cleaned, truncated = clean_title(title or "", source)
    raw = words(cleaned)
    stems = [stem(w) for w in raw]
    title_set = _informative(raw, stems)
    lead_raw = words(_lead(summary))
    lead_set = _informative(lead_raw, [stem(w) for w in lead_raw]).difference(title_set)
    countries, positions = _countries(raw)
    courts = _courts(raw)
    return Features(
        key=" ".join(raw),
        title=_shared(title_set),
        lead=_shared(lead_set),
        numbers=_shared(_numbers(cleaned)),
        dates=_shared(_dates(raw)),
        countries=_shared(countries),
        actor=_actor(stems, positions),
        stances=_shared(_stances(raw, stems, courts)),
        courts=_shared(courts),
        entities=_shared(_entities(cleaned)),
        sectors=_shared(frozenset(lx.SECTOR_WORDS[w] for w in raw if w in lx.SECTOR_WORDS)),
        legal_stage=_legal_stage(raw, stems, courts),
        truncated=truncated,
    )


_EMPTY: frozenset[Any] = frozenset()
_Element = TypeVar("_Element")


def _shared(found: frozenset[_Element]) -> frozenset[_Element]:
    """An empty feature set as THE empty set. Most of an item's nine sets are empty, and
    every separate one is an object the garbage collector walks on each full collection
    (CPython has no empty-frozenset singleton): the story window's sets were 33,000 of a
    1,000-feed bot's 48,000 collectable objects, and full collections took up to 160 ms
    with 5,000 feeds (bench/poll.py --stall-stacks)."""
    return found if found else _EMPTY


_CAPITALISED = re.compile(r"[A-Z][\w&.-]*")


def _entities(cleaned: str) -> frozenset[str]:
    # Names tell apart template headlines ("China opens probe into Google" vs
    # "... into Nvidia"). In Title Case every word is capitalised, so only
    # acronyms and letter-digit names (AMD, H20) count there.
    tokens = cleaned.replace("'", " ").split()
    alpha = [t for t in tokens if t[:1].isalpha() and len(t) > 3]
    title_case = bool(alpha) and sum(t[0].isupper() for t in alpha) / len(alpha) > 0.6
    found: set[str] = set()
    for i, token in enumerate(tokens):
        word = token.strip('.,:;!?"()[]')
        if len(word) < 2 or not word[:1].isalnum():
            continue
        # Full folding only where it matters ("U.S."): it is the slow path.
        lowered = words(word) if "." in word else plain_words(word)
        if not lowered:
            continue
        key = lowered[0]
        if key in STOPWORDS or key in lx.COUNTRY_WORDS:
            continue
        acronym = word.isupper() and word.isalpha()
        mixed = word[1:] != word[1:].lower() and not word.isupper()  # TikTok, iPhone
        code = any(ch.isdigit() for ch in word) and any(ch.isalpha() for ch in word)
        named = not title_case and i > 0 and bool(_CAPITALISED.match(word))
        if acronym or code or named or mixed:
            found.add(stem(key))
    return frozenset(found)


def _informative(raw: list[str], stems: list[str]) -> frozenset[str]:
    # Countries count as their code, so "Beijing", "China" and "Chinese" overlap.
    return frozenset(
        lx.COUNTRY_WORDS.get(w, s) for w, s in zip(raw, stems, strict=True) if w not in STOPWORDS
    )


def _lead(summary: str, max_words: int = 40) -> str:
    # The first sentence or two carry the event; the rest of a summary drifts.
    return " ".join((summary or "").split()[:max_words])


def _countries(raw: list[str]) -> tuple[frozenset[str], list[tuple[int, str]]]:
    found: list[tuple[int, str]] = []
    skip = -1
    for i, w in enumerate(raw):
        if i <= skip:
            continue
        if i + 1 < len(raw) and (w, raw[i + 1]) in lx.COUNTRY_BIGRAMS:
            found.append((i, lx.COUNTRY_BIGRAMS[(w, raw[i + 1])]))
            skip = i + 1
        elif w in lx.COUNTRY_WORDS:
            found.append((i, lx.COUNTRY_WORDS[w]))
    return frozenset(code for _, code in found), found


def _actor(stems: list[str], positions: list[tuple[int, str]]) -> str | None:
    verb_at = next((i for i, s in enumerate(stems) if s in lx.ACTION), None)
    if verb_at is None:
        return None
    # The last country before the verb acts: "Trump says China will retaliate" -> china.
    before = [code for i, code in positions if i < verb_at]
    return before[-1] if before else None


def _stances(
    raw: list[str], stems: list[str], courts: frozenset[str]
) -> frozenset[tuple[str, int]]:
    not_word = any(w in lx.NEGATIONS for w in raw)
    refusal = any(s in lx.NEGATING_VERBS for s in stems)
    has_restriction_noun = any(s in lx.RESTRICTION_NOUNS for s in stems)
    found: set[tuple[str, int]] = set()
    for w, s in zip(raw, stems, strict=True):
        if s in lx.PAUSE:
            found.add(("restrict", -1 if has_restriction_noun else 1))
        elif s in lx.WIDEN:
            if has_restriction_noun:
                found.add(("restrict", 1))
        elif w in lx.HOLD:
            found.add(("level", 0))
        elif s in lx.AXES:
            found.add(lx.AXES[s])
    # "lifts the ban" names the ban too: relaxing words win on the restriction axis.
    if ("restrict", -1) in found:
        found.discard(("restrict", 1))
    if courts and any(s in lx.COURT_AGAINST for s in stems):
        # "Judge blocks Trump's TikTok ban": the ban is relaxed, not imposed.
        found = {x for x in found if x[0] not in ("restrict", "legal")}
        found |= {("restrict", -1), ("legal", -1)}
    if not_word or refusal:
        keep = frozenset() if not_word else frozenset({"approve"})
        found = {(axis, polarity if axis in keep else -polarity) for axis, polarity in found}
    return frozenset(found)


def _courts(raw: list[str]) -> frozenset[str]:
    courts: set[str] = set()
    for i, w in enumerate(raw):
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in ("court", "courts") or w in ("appellate", "circuit"):
            key = stem(w)
            if key in lx.COURTS:
                courts.add(lx.COURTS[key])
            elif nxt in ("court", "courts"):
                courts.add("court")
        if w in ("judge", "judges") and not courts:
            courts.add("district")
        if w == "wto":
            courts.add("wto")
    if "international" in raw and "trade" in raw and "court" in raw:
        courts.discard("court")
        courts.add("trade")
    if "court" in courts and len(courts) > 1:
        courts.discard("court")  # an unnamed court says nothing against a named one
    return frozenset(courts)


def _legal_stage(raw: list[str], stems: list[str], courts: frozenset[str]) -> str | None:
    for i, s in enumerate(stems):
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        for stage, stage_words in lx.STAGES:
            # "appeals court" names a court, not an appeal being filed.
            if s in stage_words and nxt not in ("court", "courts", "judge", "judges", "panel"):
                return stage
    if courts and (
        any(s in lx.RULING or s in lx.COURT_AGAINST for s in stems)
        or any(lx.AXES.get(s, ("", 0))[0] == "legal" for s in stems)
    ):
        return "ruling"
    return None


def _numbers(cleaned: str) -> frozenset[tuple[str, float]]:
    found: set[tuple[str, float]] = set()
    text = cleaned.lower()
    for pattern, replacement in ((r"\bu\.\s?s\.", "us "), (r"\bus\s?\$", "us$")):
        text = re.sub(pattern, replacement, text)
    for m in lx.NUMBER.finditer(text):
        num, unit = m.group("num"), (m.group("unit") or "")
        currency = m.group("cur") or m.group("cur2") or ""
        try:
            value = float(num.replace(",", ""))
        except ValueError:  # pragma: no cover - the pattern only admits digits
            continue
        value *= lx.SCALE.get(unit, 1.0)
        if unit in ("%", "percent", "per cent", "pct"):
            kind = "pct"
        elif unit in ("bps", "basis point", "basis points"):
            kind = "bps"
        elif unit.startswith("cent"):
            kind = "cents"
        elif unit.startswith(("point", "pts")):
            kind = "points"
        elif currency:
            kind = lx.CURRENCY.get(currency.rstrip(), "money")
        elif unit in lx.SCALE:
            kind = "amount"
        elif "." not in num and "," not in num and 1900 <= value <= 2100:
            kind = "year"
        else:
            kind = "num"
        found.add((kind, round(value, 6)))
    return frozenset(found)


def _dates(raw: list[str]) -> frozenset[str]:
    found: set[str] = set()
    for i, w in enumerate(raw):
        if w in lx.WEEKDAYS:
            found.add(f"weekday:{w}")
        elif w in lx.MONTHS:
            # "may" and "march" are verbs too: a month needs a day number beside it.
            before = raw[i - 1] if i else ""
            after = raw[i + 1] if i + 1 < len(raw) else ""
            day = after if after.isdigit() else before if before.isdigit() else ""
            if day and 1 <= int(day) <= 31:
                found.add(f"month:{lx.MONTHS[w]}")
                found.add(f"day:{lx.MONTHS[w]}-{int(day)}")
    return frozenset(found)
