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
matching. The dictionary knows simplified Chinese, which is what the scanner's text
already is (`chinese.fold_chinese`, one character for one, so positions agree).

Japanese katakana words are runs of katakana, so a katakana edge must not touch
another katakana character. Hiragana edges are not guarded (particles delimit words).

Pure: no network, clock or environment. The jieba dictionary is compiled into its
extension module; importing it maps ~31 MB and building the segmenter ~25 MB more, so
both wait for the first Han hit whose edges need a check (English-only traffic never
gets there).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from bot.matching.charclass import is_cjk, is_katakana
from bot.matching.chinese import to_simplified

if TYPE_CHECKING:
    import rjieba

# How far around a match we look for crossing words. The longest dictionary words are
# far shorter; the cap bounds the cost on a wall of unspaced text.
WINDOW = 12

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@cache
def _jieba() -> rjieba.Jieba:
    import rjieba  # noqa: PLC0415  (see the module docstring: ~56 MB, on first use)

    return rjieba.Jieba()


Segments = dict[tuple[int, int], list[tuple[int, int]]]


def han_edges_ok(
    text: str, start: int, end: int, cache: Segments, *, left: bool = True, right: bool = True
) -> bool:
    """True unless a dictionary word of `text` crosses a checked edge of text[start:end].

    `text` is a scanned reading (simplified script, see `chinese`), as jieba expects.
    """
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
        window = text[lo:hi]
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
    text = _SURROGATE_RE.sub("\ufffd", to_simplified(text))  # jieba works on UTF-8
    return [w for w, _, _ in _jieba().tokenize(text, "default", False)]
