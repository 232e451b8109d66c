"""Headline text -> normalised words and stems. Pure.

Owns the low-level text handling shared by the story features: wire-service
prefixes ("UPDATE 1-", "REFILE-"), revision markers ("(2)"), outlet suffixes
("... - Reuters"), truncation marks ("  ..."), abbreviations ("U.S."), and a
deliberately crude English stemmer. The stemmer only has to map the forms of
one word onto the same key (raise/raises/raised/raising), not produce real
roots; it must stay cheap because every item of every feed goes through it.
"""

from __future__ import annotations

import re
import unicodedata

# Wire services prefix re-sent stories; the story is the same one.
_PREFIX = re.compile(
    r"^\s*(?:(?:update|wrapup|corrected|correction|refile|rpt|repeat|exclusive|breaking|"
    r"analysis|factbox|timeline|insight|live|watch|video|photos|in pictures|"
    r"breakingviews|premarket|global markets|us stocks|snap analysis|"
    r"rpt-update|corrected-update)(?:\s*\d+)?\s*[-:—|]+\s*)+",
    re.IGNORECASE,
)
# Bloomberg re-sends as "Title (2)"; "(Video)", "(Reuters)" and the like add nothing.
_SUFFIX = re.compile(r"\s*\((?:\d|video|reuters|ap|afp|update\s*\d*|corrected)\)\s*$", re.I)
_TRUNCATION = re.compile(r"\s*(?:\.\.\.|…)\s*$")
_ABBREVIATIONS = (
    (re.compile(r"\bu\.\s?s\.(?:\s?a\.)?", re.I), "us "),
    (re.compile(r"\bu\.\s?k\.", re.I), "uk "),
    (re.compile(r"\be\.\s?u\.", re.I), "eu "),
    (re.compile(r"\bu\.\s?n\.", re.I), "un "),
    # Institutions written out or abbreviated are one name: "Bank of England" = "BoE".
    (re.compile(r"\bbank\s+of\s+england\b", re.I), "boe"),
    (re.compile(r"\bbank\s+of\s+japan\b", re.I), "boj"),
    (re.compile(r"\bpeople'?s\s+bank\s+of\s+china\b", re.I), "pboc"),
    (re.compile(r"\beuropean\s+central\s+bank\b", re.I), "ecb"),
    (re.compile(r"\bfederal\s+reserve\b", re.I), "fed"),
    (re.compile(r"\bworld\s+trade\s+organi[sz]ation\b", re.I), "wto"),
    (re.compile(r"\bforeign\s+exchange\b", re.I), "forex"),
)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-"})
# Words, and numbers with their decimal point and a trailing percent sign kept,
# so "145%" and "7.1" survive as one token each.
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+", re.UNICODE)


def word_set(text: str) -> frozenset[str]:
    """The words of a whitespace-separated list (keeps long word lists readable)."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """
    a an the and or but nor of to in on at by for from with without into onto over under
    as is are was were be been being am do does did done has have had having it its
    this that these those there here he she they we you i me him her them our your
    their his hers my mine who whom whose which what when where why how than then so
    if not no yes all any some more most much many few very just also too only even
    s t will would could should may might can cannot must shall about after before
    again against amid among around because between both during each further off out
    once own same until up down while via per vs v
    says said say tells told report reports reported according new news latest
    update updates updated video videos watch photos photo pics pictures live
    today now here's what's get gets got make makes made one top first last
    """
)
# "up"/"down" are stop words for similarity but direction words for features;
# features.py looks at the raw words, not the filtered ones.


def clean_title(title: str, source: str = "") -> tuple[str, bool]:
    """Strip prefixes, revision and outlet suffixes; report whether it was truncated."""
    text = unicodedata.normalize("NFKC", title).translate(_APOSTROPHES).translate(_DASHES)
    text = " ".join(text.split())
    truncated = bool(_TRUNCATION.search(text))
    if truncated:
        text = _TRUNCATION.sub("", text)
    text = _PREFIX.sub("", text)
    text = _SUFFIX.sub("", text)
    if source:
        # Google News and aggregators append " - Outlet"; only strip a known outlet
        # name, because " - " is also ordinary headline punctuation.
        for sep in (" - ", " | ", " -- "):
            head, found, tail = text.rpartition(sep)
            if found and head and _same_name(tail, source):
                text = head
                break
    return text.strip(), truncated


def _same_name(tail: str, source: str) -> bool:
    a = re.sub(r"[^a-z0-9]", "", tail.lower())
    b = re.sub(r"[^a-z0-9]", "", source.lower())
    return bool(a) and (a == b or (len(a) >= 3 and (a in b or b in a)))


def words(text: str) -> list[str]:
    """Lower-case words with possessives dropped and abbreviations folded ("U.S." -> "us")."""
    lowered = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).translate(_DASHES)
    for pattern, replacement in _ABBREVIATIONS:
        lowered = pattern.sub(replacement, lowered)
    lowered = lowered.lower()
    # "won't" must not become the word "won"; negation matters to the features.
    lowered = re.sub(r"n't\b", " not", lowered)
    lowered = re.sub(r"'s\b|'", " ", lowered)
    return [_TOKEN_ALIASES.get(w, w) for w in _WORD.findall(lowered)]


# One-word aliases, applied by both words() and plain_words().
_TOKEN_ALIASES = {"fx": "forex"}


def plain_words(text: str) -> list[str]:
    """Lower-case words of already cleaned text, without the multi-word folding."""
    found = _WORD.findall(re.sub(r"'s\b|'", " ", text.lower()))
    return [_TOKEN_ALIASES.get(w, w) for w in found]


def stem(word: str) -> str:
    """Map inflections of one word to one key; good enough for overlap, not linguistics."""
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ing") and len(w) > 5:
        w = w[:-3]
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-2]
    # cutting -> cutt -> cut, banned -> bann -> ban
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w
