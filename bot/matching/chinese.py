"""Chinese script folding: simplified and traditional text match each other.

A Chinese term and the text it is searched in are both folded to simplified Chinese
(`normalize` calls `fold_chinese` once per field, only for text holding Han characters),
so `关税` matches `關稅` and `關税` without searching for each spelling. Folding keeps
every character in place: hit offsets (explanations, highlighting), the word guard
(`cjk`) and token counts (NEAR) all use positions of the folded text.

- Script: one table, character for character (`關` -> `关`, Hong Kong variants such as
  `衞` -> `卫`), built on first use from OpenCC's hk2s conversion of every Han code
  point. Per character rather than by phrase: it never changes the length and never
  depends on the neighbours, so a term folds exactly as the same characters do inside
  any text. Text without a traditional character (mainland news, nearly all Chinese
  traffic) pays one regex scan and nothing else. Japanese kanji fold the same way
  (`輸出規制` = `输出规制`).
- Taiwan vocabulary (`晶片` for `芯片`, `網路` for `网络`): OpenCC tw2sp, phrase-aware.
  Applied to all text it would rewrite mainland words as well (`程序` -> `进程`, `影片`
  -> `视频`, `文件` -> `文档`), and on Hong Kong text it would lose plain script matches
  (`儲存` -> `保存`). So it is a second reading, `taiwan`, made only for a field that
  holds traditional characters and no kana (not Japanese), searched besides the
  script-folded text. It has the same length: phrases whose mainland form has another
  length (`網際網路` -> `互联网`, `尼日` -> `尼日尔`) keep their script fold
  (`_taiwan_reading`), and since one shorter and one longer phrase can still shift
  what lies between them, a hit found only in this reading is reported once
  `TaiwanReading.confirms` its place.
- A term written in traditional script is also searched in its Taiwan reading (`軟體`
  -> `软体`, `软件`); a simplified term needs nothing more.

Memory: nothing is loaded at import. On the first Han term or text: the opencc module
(~2 MB) and the table (~1 MB kept; building it peaks ~4 MB: the hk2s converter is dropped
after, ~50 ms); on the first text with traditional characters tw2sp (~2 MB more, as it
reuses what hk2s freed). The simplified -> traditional converters this replaces cost
~45 MB (their phrase dictionaries), loaded at import.

Pure: no network, clock or environment. OpenCC reads its conversion tables from its own
package directory: loading them is like loading code.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from bot.matching.charclass import HAN_RE, KANA_RE, is_han

if TYPE_CHECKING:
    import opencc

# The code-point blocks of `charclass.HAN_RE`, for building the table.
_HAN_BLOCKS = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x31350))
# Code points converted per OpenCC call while building the table: OpenCC's working
# memory grows with the input (~20 MB for all of them in one call, ~1 MB for 2048).
_TABLE_CHUNK = 512
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_HAN_RUN_RE = re.compile(HAN_RE.pattern + "+")


def _opencc(config: str) -> opencc.OpenCC:
    # Imported here: the module alone maps ~2.5 MB that English-only traffic never needs.
    import opencc  # noqa: PLC0415

    return opencc.OpenCC(config)


def _convert(converter: opencc.OpenCC, text: str) -> str:
    try:
        converted: str = converter.convert(text)
    except UnicodeEncodeError:  # lone surrogates: OpenCC works on UTF-8
        converted = converter.convert(_SURROGATE_RE.sub("\ufffd", text))
    return converted


@cache
def _script_table() -> tuple[dict[str, str], re.Pattern[str]]:
    """Traditional -> simplified, one character for one, and a regex of its keys."""
    # hk2s: OpenCC's traditional characters plus the Hong Kong variants. Characters
    # separated by newlines never form a phrase, so this reads its character
    # dictionaries only.
    converter = _opencc("hk2s")
    table: dict[str, str] = {}
    for lo, hi in _HAN_BLOCKS:
        for start in range(lo, hi, _TABLE_CHUNK):
            chars = [chr(cp) for cp in range(start, min(hi, start + _TABLE_CHUNK))]
            out = converter.convert("\n".join(chars)).split("\n")
            if len(out) != len(chars):  # not expected; a chunk left out only folds less
                continue
            for ch, conv in zip(chars, out, strict=True):
                if conv != ch and len(conv) == 1 and is_han(conv):
                    table[ch] = conv
    # Follow chains (薴 -> 苧 -> 苎) so that folding folded text changes nothing.
    for ch, first in table.items():
        last = first
        for _ in range(4):
            nxt = table.get(last)
            if nxt is None:
                break
            last = nxt
        table[ch] = last
    # The regex engine tests characters beyond the BMP one class item at a time (~900
    # here: 270 µs per 300 characters), so those are covered by one range instead: a
    # rare extension-B character sends a text down the slower path needlessly, no more.
    bmp = "".join(sorted(ch for ch in table if ch < "\U00010000"))
    traditional = re.compile(f"[{bmp}\U00020000-\U0003134f]")
    return table, traditional


def _fold(text: str) -> str:
    """The script fold: `text` itself (the same object) when nothing is traditional.

    A regex pass that calls back per traditional character: the scan is needed anyway
    to find them, and most text with Han characters has none (mainland Chinese) or few
    (Japanese: ~18 µs per 340 characters with str.translate, ~8 µs this way).
    """
    table, traditional = _script_table()

    def simplified(m: re.Match[str]) -> str:
        ch = m.group()
        return table.get(ch, ch)

    return traditional.sub(simplified, text)


@cache
def _tw2sp() -> opencc.OpenCC:
    return _opencc("tw2sp")


@dataclass(frozen=True, slots=True)
class TaiwanReading:
    """Text read with Taiwan vocabulary in mainland form (`晶片` -> `芯片`) and folded to
    simplified script: the length of `source`, Han characters replaced one for one."""

    text: str
    source: str  # the text it was read from, before any folding
    # edges inside runs of Han characters where the source was converted in pieces
    # (see `_same_length`): no phrase was read across them
    cuts: tuple[int, ...] = ()

    def confirms(self, start: int, end: int) -> bool:
        """True if text[start:end] was read from source[start:end].

        Keeping the length of every piece converted does not keep every position: a
        shorter and a longer phrase (埠 -> 端口, 程式碼 -> 代码 in `埠晶片程式碼`) cancel
        out and shift what lies between them. So a hit is confirmed when its source
        characters read as it on their own or, being part of a longer phrase (数据 from
        資料庫 -> 数据库), when the rest of its piece before it and after it do: then its
        first and last characters stand where the reading has them.
        """
        source, text = self.source, self.text
        if _read(source[start:end]) == text[start:end]:
            return True
        first = start
        while first > 0 and is_han(source[first - 1]):
            first -= 1
        last = end
        while last < len(source) and is_han(source[last]):
            last += 1
        cuts = self.cuts
        before = bisect_right(cuts, start)  # cuts[:before] <= start
        if before:
            first = max(first, cuts[before - 1])
        after = bisect_left(cuts, end)  # cuts[after:] >= end
        if after < len(cuts):
            last = min(last, cuts[after])
        return (
            _read(source[first:start]) == text[first:start]
            and _read(source[end:last]) == text[end:last]
        )


def fold_chinese(text: str) -> tuple[str, TaiwanReading | None]:
    """(text folded to simplified script, its Taiwan reading or None).

    Both have the length of `text`; the reading differs from the fold in Han
    characters only (and in lone surrogates, replaced as `NormText.sanitize` does). It is
    made for text holding traditional characters and no kana, and returned only when it
    differs. Meant for text with Han characters (`HAN_RE`): the first call builds the
    table.
    """
    folded = _fold(text)
    if folded is text:
        return text, None
    if KANA_RE.search(text) is not None:
        # Japanese: its kanji fold like Chinese characters (輸出規制 = 输出规制), but
        # Taiwan vocabulary is no reading of Japanese, and tw2sp costs ~40 µs a field
        return folded, None
    reading = _taiwan_reading(text)
    if reading is None or reading.text == folded:
        return folded, None
    return folded, reading


def to_simplified(text: str) -> str:
    """The script fold alone (for explanations and tests; see `fold_chinese`)."""
    if HAN_RE.search(text) is None:
        return text
    return _fold(text)


def chinese_forms(term: str) -> list[str]:
    """The forms searched for a term: in simplified script and, for a term written in
    traditional script, also its Taiwan reading (`網路` -> `网路`, `网络`)."""
    if HAN_RE.search(term) is None:
        return [term]
    folded = _fold(term)
    if folded is term or KANA_RE.search(term) is not None:
        return [folded]
    # A term has no positions to keep: its reading may change length (互联网).
    return list(dict.fromkeys([folded, _fold(_convert(_tw2sp(), term))]))


def _read(text: str) -> str:
    if not text:
        return ""
    # tw2sp keeps some characters inside its phrases (乾隆): the table folds them as in
    # every other text, so the two readings differ by vocabulary only.
    return _fold(_convert(_tw2sp(), text))


def _taiwan_reading(text: str) -> TaiwanReading | None:
    """`text` read with Taiwan vocabulary, at the same length (see `TaiwanReading`).

    Converted whole: when that keeps the length, that is the reading (a shorter and a
    longer phrase may have shifted what lies between them: `TaiwanReading.confirms`
    catches that per hit, for the price of such hits, where checking every field run by
    run would cost ~20 µs per field). Otherwise run of Han characters by run (tw2sp
    changes Han characters only, so both texts have the same runs between the same
    other characters), and a run whose length changed (網際網路 -> 互联网) again in
    halves, down to single characters left to the script fold: giving up the whole run
    would also lose `軟體` in `臺灣的軟體和網際網路產業`. None if something other than
    Han characters moved.
    """
    converter = _tw2sp()
    try:
        converted: str = converter.convert(text)
    except UnicodeEncodeError:  # lone surrogates: OpenCC works on UTF-8
        text = _SURROGATE_RE.sub("\ufffd", text)  # one for one, as NormText.sanitize
        converted = converter.convert(text)
    cuts: list[int] = []
    if len(converted) != len(text):
        spans = [m.span() for m in _HAN_RUN_RE.finditer(text)]
        runs = _HAN_RUN_RE.findall(converted)
        if len(runs) != len(spans) or _HAN_RUN_RE.sub("", text) != _HAN_RUN_RE.sub("", converted):
            return None
        out: list[str] = []
        pos = 0
        for (start, end), run in zip(spans, runs, strict=True):
            out.append(text[pos:start])
            if len(run) == end - start:
                out.append(run)
            else:
                out.extend(_same_length(converter, text[start:end], start, cuts))
            pos = end
        out.append(text[pos:])
        converted = "".join(out)
    return TaiwanReading(_fold(converted), text, tuple(sorted(cuts)))


def _same_length(converter: opencc.OpenCC, run: str, at: int, cuts: list[int]) -> list[str]:
    """`run` converted, or else its halves (their edge added to `cuts`), down to single
    characters left as written. Costs about two conversions per level, for runs holding
    a phrase of another length only; a phrase cut in two is merely not read as a
    phrase, and its characters still get the script fold."""
    converted = _convert(converter, run)
    if len(converted) == len(run):
        return [converted]
    if len(run) == 1:
        return [run]
    mid = len(run) // 2
    cuts.append(at + mid)
    return _same_length(converter, run[:mid], at, cuts) + _same_length(
        converter, run[mid:], at + mid, cuts
    )
