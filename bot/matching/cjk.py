"""Word-boundary rule for scripts written without spaces (Chinese, Japanese kanji/kana).

A Chinese term is found by substring search, and a substring is not a word: `关税`
(tariff) occurs inside `海关税收` (customs tax revenue), split across 海关|税收.

The rule: a match is accepted unless a word of the surrounding text *crosses* one of
its edges, i.e. starts before the match and ends inside it, or starts inside it and
ends after it, without containing the whole match. A word that contains the whole
match (`关税壁垒` for `关税`) extends it and is fine; words that meet the match at its
edges (`加征|关税`) are fine.

Where do the words come from? A hand-made list of "known containing words" only covers
the cases someone thought of. We segment the local run of Han/kana characters with
jieba (the `rjieba` binding of jieba-rs: dictionary compiled into the wheel, no
download, ~1 µs per short run), in dictionary-only mode (HMM off): unknown sequences
fall apart into single characters, which never cross an edge, so the guard errs towards
matching. The dictionary knows simplified Chinese, so the window is converted with
OpenCC (t2s, only when that keeps its length) before it is segmented.

Traditional/simplified: terms are searched in every script (`chinese_forms`: OpenCC
s2t, s2hk, s2twp, t2s), which is cheaper than converting every item's text.

Japanese katakana words are runs of katakana, so a katakana edge must not touch
another katakana character. Hiragana edges are not guarded (particles delimit words).

Pure: no network, clock or environment. The jieba dictionary is compiled into its
extension module; OpenCC reads its conversion tables from its own package directory
once, at import, like loading code.
"""

from __future__ import annotations

import re
from functools import cache

import opencc
import rjieba

from bot.matching.charclass import HAN_RE, is_cjk, is_katakana

# How far around a match we look for crossing words. The longest dictionary words are
# far shorter; the cap bounds the cost on a wall of unspaced text.
WINDOW = 12



@cache
def _jieba() -> rjieba.Jieba:
    # The segmenter's dictionary costs ~56 MB: load it on the first Chinese hit that
    # needs a word-boundary check, not at import (English-only deployments never do).
    return rjieba.Jieba()

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# OpenCC is phrase-aware (乾隆 stays 乾隆; s2twp uses Taiwan vocabulary: 芯片 -> 晶片).
_T2S = opencc.OpenCC("t2s")
_TO_TRADITIONAL = tuple(opencc.OpenCC(c) for c in ("s2t", "s2hk", "s2twp"))


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese, or the text unchanged if that changes length."""
    try:
        converted = _T2S.convert(text)
    except UnicodeEncodeError:  # lone surrogates: OpenCC works on UTF-8
        converted = _T2S.convert(_SURROGATE_RE.sub("\ufffd", text))
    return converted if len(converted) == len(text) else text


def chinese_forms(term: str) -> list[str]:
    """The term in simplified and traditional scripts, the written form first."""
    if not HAN_RE.search(term):
        return [term]
    simplified = _T2S.convert(term)
    forms = [term, simplified] + [c.convert(simplified) for c in _TO_TRADITIONAL]
    return list(dict.fromkeys(forms))

Segments = dict[tuple[int, int], list[tuple[int, int]]]


def han_edges_ok(
    text: str, start: int, end: int, cache: Segments, *, left: bool = True, right: bool = True
) -> bool:
    """True unless a dictionary word of `text` crosses a checked edge of text[start:end]."""
    lo = start
    while lo > 0 and start - lo < WINDOW and is_cjk(text[lo - 1]):
        lo -= 1
    hi = end
    n = len(text)
    while hi < n and hi - end < WINDOW and is_cjk(text[hi]):
        hi += 1
    if lo == start and hi == end:
        return True
    spans = cache.get((lo, hi))
    if spans is None:
        window = to_simplified(text[lo:hi])
        spans = [(a + lo, b + lo) for _, a, b in _jieba().tokenize(window, "default", False)]
        cache[(lo, hi)] = spans
    for a, b in spans:
        if a <= start and b >= end:
            continue  # contains the whole match
        if (left and a < start < b) or (right and a < end < b):
            return False
    return True


def katakana_edges_ok(text: str, start: int, end: int, left: bool, right: bool) -> bool:
    if left and start > 0 and is_katakana(text[start - 1]):
        return False
    return not (right and end < len(text) and is_katakana(text[end]))


def segment(text: str) -> list[str]:
    """The words the guard sees (for explanations and tests)."""
    return [w for w, _, _ in _jieba().tokenize(to_simplified(text), "default", False)]
