"""Text normalisation shared by query terms and item text.

Both sides go through the same function, so a term matches whatever the text
normalises to. Steps, in order:

1. cap the input (untrusted feeds can send megabytes; we look at the first few KB);
2. leftover markup: tags become a space, character entities are decoded;
3. Unicode NFKC (full-width forms, ligatures, compatibility characters);
4. accents folded on Latin letters (`exportación` = `exportacion`), typographic
   apostrophes/hyphens unified, invisible characters dropped;
5. whitespace runs collapsed to one space;
6. Chinese folded to simplified script (`關稅` = `关税`), only in text holding Han
   characters, one character for one (see `chinese.fold_chinese`); text in traditional
   script also gets a second reading with Taiwan vocabulary in mainland form (`晶片` ->
   `芯片`), `taiwan`, searched as well;
7. case folding (kept separately: `cased` is the text before this step, used for
   case-sensitive terms such as `US`).
Lone surrogates (which no UTF-8 engine accepts) are replaced one for one by U+FFFD only
when an engine refuses them, so well-formed text pays nothing for the check.

Fast path: every step is one C-level string operation (~4 µs per 300 characters of
non-ASCII text, ~1 µs for ASCII). Hit positions are reported in the caller's original
text; when a step moved characters, the mapping back is rebuilt lazily (only for items
with hits) by replaying the steps, per character only where lengths changed.

Pure: no I/O, no clock, no environment.
"""

from __future__ import annotations

import html
import re
import unicodedata
from itertools import chain

from bot.matching.charclass import HAN_RE
from bot.matching.chinese import TaiwanReading, fold_chinese

TITLE_CAP = 1_000
SUMMARY_CAP = 4_000
QUERY_TERM_CAP = 200

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Tags must start like a tag (`<b`, `</p`, `<!--`, `<?xml`) so "a < b" stays text.
_MARKUP_RE = re.compile(
    r"<[A-Za-z/!?][^<>]{0,1000}>"
    r"|&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
)


def _markup_replacement(m: re.Match[str]) -> str:
    token = m.group(0)
    if token[0] == "<":
        return " "
    return html.unescape(token)


def _build_fold_table() -> dict[int, str | None]:
    """Accent folding for Latin letters, plus a few characters that only get in the way.

    Only Latin ranges are folded: stripping marks from kana (が -> か) or Cyrillic
    (й -> и) would change the word, not its spelling.
    """
    table: dict[int, str | None] = {}
    for cp in chain(range(0xC0, 0x250), range(0x1E00, 0x1F00)):
        ch = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        if base != ch and len(base) == 1:
            table[cp] = base
    for src, dst in zip("øØđĐłŁħĦ", "oOdDlLhH", strict=True):
        table[ord(src)] = dst
    for cp in range(0x300, 0x370):  # combining marks NFKC could not compose away
        table[cp] = None
    for ch in "\u2010\u2011\u2012\u2212":  # hyphens and minus -> ASCII hyphen
        table[ord(ch)] = "-"
    for ch in "\u2018\u2019\u02bc\u2032\uff07":  # apostrophes -> ASCII apostrophe
        table[ord(ch)] = "'"
    for ch in "\u00ad\u200b\u200c\u200d\u2060\ufeff":  # soft hyphen, zero-width chars
        table[ord(ch)] = None
    return table


_FOLD = _build_fold_table()
# str.translate with a dict costs a dict lookup per character (~12 µs per 300 characters
# of non-ASCII text); a regex finds the few characters to fold in C and calls back only
# for those.
_FOLD_STR = {chr(cp): (dst or "") for cp, dst in _FOLD.items()}
_FOLD_RE = re.compile("[" + "".join(re.escape(ch) for ch in sorted(_FOLD_STR)) + "]")

# Full-width ASCII and the ideographic space: NFKC maps them one to one, but a single one
# sends NFKC down its slow path for the whole string (~20 µs for 200 Chinese
# characters), so they are replaced first and NFKC usually finds nothing left to do.
_FULLWIDTH_RE = re.compile("[\uff01-\uff5e\u3000]")


def _fold_repl(m: re.Match[str]) -> str:
    return _FOLD_STR[m.group()]


def _fullwidth_repl(m: re.Match[str]) -> str:
    ch = m.group()
    return " " if ch == "\u3000" else chr(ord(ch) - 0xFEE0)


def fold_accents(text: str) -> str:
    return _FOLD_RE.sub(_fold_repl, text)


class NormText:
    """One field's text, normalised, with lazy mapping of positions back to the source."""

    __slots__ = (
        "_case_map", "_spans", "_taiwan", "aligned", "cased", "folded", "source", "taiwan"
    )

    def __init__(
        self,
        source: str,
        cased: str,
        folded: str,
        aligned: bool,
        taiwan: TaiwanReading | None = None,
    ) -> None:
        self.source = source
        self.cased = cased
        self.folded = folded
        self.aligned = aligned
        # `folded` read with Taiwan vocabulary (see `chinese`): same positions, other Han
        # characters; None when that reading would find nothing more
        self._taiwan = taiwan
        self.taiwan = None if taiwan is None else taiwan.text.casefold()
        self._spans: tuple[list[int], list[int]] | None = None
        self._case_map: list[int] | None = None

    def confirms_taiwan(self, start: int, end: int) -> bool:
        """Whether a hit at [start, end) of the Taiwan reading is where it says it is."""
        return self._taiwan is not None and self._taiwan.confirms(start, end)

    def sanitize(self) -> None:
        """Replace lone surrogates (one for one), for engines that need valid UTF-8."""
        self.cased = _SURROGATE_RE.sub("\ufffd", self.cased)
        self.folded = _SURROGATE_RE.sub("\ufffd", self.folded)
        if self.taiwan is not None:
            self.taiwan = _SURROGATE_RE.sub("\ufffd", self.taiwan)

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of `folded` to the caller's text."""
        if self.aligned:
            return start, end
        if self._spans is None:
            traced, starts, ends = _trace(self.source)
            if len(traced) != len(self.folded):  # exotic input (e.g. NFKC adding spaces)
                n = len(self.source)
                starts = [min(i, n) for i in range(len(self.folded) + 1)]
                ends = [min(i + 1, n) for i in range(len(self.folded) + 1)]
            self._spans = (starts, ends)
        starts, ends = self._spans
        if not starts or end <= start:
            return 0, 0
        last = min(end, len(starts)) - 1
        return starts[min(start, last)], ends[last]

    def cased_slice(self, start: int, end: int) -> str:
        """The case-preserved text under a [start, end) span of `folded`."""
        if len(self.cased) == len(self.folded):
            return self.cased[start:end]
        if self._case_map is None:
            # Case folding can expand a character (ß -> ss); map each folded char back.
            mapping: list[int] = []
            for i, ch in enumerate(self.cased):
                mapping.extend([i] * len(ch.casefold()))
            mapping.append(len(self.cased))
            self._case_map = mapping
        cm = self._case_map
        if start >= len(cm) - 1:
            return ""
        return self.cased[cm[start] : cm[min(end, len(cm) - 1)]]


def normalize_text(text: str, cap: int, *, chinese: bool = True) -> NormText:
    """Normalise one field. Never raises on any `str`.

    `chinese=False` skips step 6, for a matcher without Chinese terms (nothing it
    searches for can change, and OpenCC is never loaded). Lone surrogates are left in
    place (replacing them is done by `NormText.sanitize` when an engine refuses them),
    which keeps this path free of an extra scan.
    """
    source = text[:cap]
    s = source
    aligned = True
    if "<" in s or "&" in s:
        stripped = _MARKUP_RE.sub(_markup_replacement, s)
        if stripped != s:
            aligned = False
            s = stripped
    if not s.isascii():
        if not unicodedata.is_normalized("NFKC", s):  # quick check, no copy
            s = _FULLWIDTH_RE.sub(_fullwidth_repl, s)
            if not unicodedata.is_normalized("NFKC", s):
                # even at equal length (ﬁ -> fi plus e+◌́ -> é) positions may move
                aligned = False
                s = unicodedata.normalize("NFKC", s)
        f = _FOLD_RE.sub(_fold_repl, s)
        if len(f) != len(s):
            aligned = False
        s = f
    cased = " ".join(s.split())
    if len(cased) != len(s):
        aligned = False
    if cased.isascii():
        return NormText(source, cased, cased.lower(), aligned)
    taiwan = None
    if chinese and HAN_RE.search(cased) is not None:
        # one character for one: positions and the alignment above still hold
        cased, taiwan = fold_chinese(cased)
    folded = cased.casefold()
    if len(folded) != len(cased):
        aligned = False
        taiwan = None  # rare (ß in Chinese text): the reading's positions are `cased`'s
    return NormText(source, cased, folded, aligned, taiwan)


def normalize_term(text: str) -> tuple[str, str]:
    """(cased, folded) form of a query term, by the same rules as item text."""
    nt = normalize_text(text, QUERY_TERM_CAP)
    return nt.cased, nt.folded


_RUN_RE = re.compile(r"\S+")
# Combining marks NFKC may compose with the previous character: a run holding one can
# keep its length overall while characters inside it moved.
_COMBINING_RE = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a]"
)


def _trace(source: str) -> tuple[str, list[int], list[int]]:
    """Replay `normalize_text`, recording for each output character its source span.

    Only used for items with hits whose normalisation moved positions. Whole-string
    steps where lengths are kept (the usual case: NBSP, full-width punctuation, curly
    apostrophes), per character only when folding resized something. The Chinese
    script fold is not replayed: it replaces characters one for one, in place.
    """
    # 1. markup: the stripped text, and each of its characters' span in the source
    if "<" in source or "&" in source:
        parts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        for m in _MARKUP_RE.finditer(source):
            parts.append(source[pos : m.start()])
            starts.extend(range(pos, m.start()))
            ends.extend(range(pos + 1, m.start() + 1))
            rep = _markup_replacement(m)
            parts.append(rep)
            starts.extend([m.start()] * len(rep))
            ends.extend([m.end()] * len(rep))
            pos = m.end()
        parts.append(source[pos:])
        starts.extend(range(pos, len(source)))
        ends.extend(range(pos + 1, len(source) + 1))
        text = "".join(parts)
    else:
        text = source
        starts = list(range(len(source)))
        ends = list(range(1, len(source) + 1))

    # 2. NFKC, accent and case folding
    if text.isascii():
        folded = text.lower()
    else:
        nfkc = unicodedata.normalize("NFKC", _FULLWIDTH_RE.sub(_fullwidth_repl, text))
        accents = _FOLD_RE.sub(_fold_repl, nfkc)
        folded = accents.casefold()
        # every step must keep the length on its own: a deletion (soft hyphen) and an
        # expansion (ß -> ss) elsewhere would cancel out in the total
        if (
            len(nfkc) != len(text)
            or len(accents) != len(nfkc)
            or len(folded) != len(accents)
            or _COMBINING_RE.search(text) is not None
        ):
            pieces: list[str] = []
            s2: list[int] = []
            e2: list[int] = []
            for i, ch in enumerate(text):
                piece = _fold_run(ch)
                pieces.append(piece)
                s2.extend([starts[i]] * len(piece))
                e2.extend([ends[i]] * len(piece))
            folded, starts, ends = "".join(pieces), s2, e2

    # 3. whitespace runs -> one space, trimmed at both ends
    if " ".join(folded.split()) == folded:
        return folded, starts, ends
    out: list[str] = []
    out_starts: list[int] = []
    out_ends: list[int] = []
    for m in _RUN_RE.finditer(folded):
        a, b = m.span()
        if out:
            out.append(" ")
            out_starts.append(starts[a - 1])
            out_ends.append(ends[a - 1])
        out.append(m.group())
        out_starts.extend(starts[a:b])
        out_ends.extend(ends[a:b])
    return "".join(out), out_starts, out_ends


def _fold_run(text: str) -> str:
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", _FULLWIDTH_RE.sub(_fullwidth_repl, text))
    return _FOLD_RE.sub(_fold_repl, text).casefold()
