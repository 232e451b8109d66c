"""Character hygiene shared by the summary and the renderer.

Owns: which code points feed text may keep (controls, invisible junk, bidi overrides and
lone surrogates go), whitespace folding, "is this CJK" tests and grapheme-safe cut
positions. Must not know about HTML, sentences or Telegram.
"""

from __future__ import annotations

import re
import unicodedata

# Removed outright. Zero-width space, soft hyphen, BOM, word joiner and the Mongolian
# vowel separator only ever break matching and counting. Bidi embeddings, overrides and
# isolates (U+202A-202E, U+2066-2069) are dropped because an unterminated one in a title
# re-orders the rest of the message in some clients; RTL text displays correctly without
# them (the Unicode bidi algorithm needs no help), and LRM/RLM/ALM marks are kept.
_INVISIBLE = "\u200b\u00ad\ufeff\u2060\u180e\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DROP = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f" + _INVISIBLE + "\ufff9-\ufffb\ufffe\uffff]"
)
_NEWLINES = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACE_RUN = re.compile(r"[^\S\n]+")
_ANY_SPACE_RUN = re.compile(r"\s+")

ELLIPSIS = "…"


def clean_chars(text: str) -> str:
    """Drop control and invisible characters; normalise line breaks to "\\n".

    Tabs become spaces. Lone surrogates (possible in a Python str, impossible in UTF-8)
    become U+FFFD so the text can always be encoded and sent.
    """
    text = _NEWLINES.sub("\n", text)
    text = text.replace("\t", " ")
    text = _SURROGATE.sub("\ufffd", text)
    return _DROP.sub("", text)


def fold_line(text: str) -> str:
    """One line: every run of whitespace (newlines included) becomes one space."""
    return _ANY_SPACE_RUN.sub(" ", text).strip()


def fold_spaces(text: str) -> str:
    """Collapse runs of spaces inside lines, trim lines, drop empty lines."""
    lines = (_SPACE_RUN.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def is_cjk(char: str) -> bool:
    """Scripts written without spaces between words (Han, kana, Hangul syllables count
    too, since Korean cuts are as safe between syllables as Chinese ones)."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF  # Han extension A
        or 0x4E00 <= code <= 0x9FFF  # Han
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF  # Han compatibility
        or 0x20000 <= code <= 0x3FFFF  # Han extensions B+
    )


def is_cjk_punct(char: str) -> bool:
    """Full-width punctuation after which a CJK line may be cut."""
    return char in "，、；：。！？」』）》〉】”’…"


def _is_extender(char: str) -> bool:
    """True for code points that attach to the previous one inside a grapheme cluster."""
    code = ord(char)
    return (
        unicodedata.category(char)[0] == "M"  # combining marks (Mn, Mc, Me)
        or code == 0x200D  # zero-width joiner
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (flags of regions)
        or 0xE0100 <= code <= 0xE01EF  # variation selectors supplement
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def is_safe_cut(text: str, index: int) -> bool:
    """Whether cutting `text` at `index` keeps every grapheme cluster whole (approximately:
    combining marks, ZWJ emoji sequences, modifiers, flag pairs, CRLF)."""
    if index <= 0 or index >= len(text):
        return True
    before, after = text[index - 1], text[index]
    if _is_extender(after) or before == "\u200d":
        return False
    if before == "\r" and after == "\n":
        return False
    if _is_regional_indicator(after) and _is_regional_indicator(before):
        run = 0
        probe = index - 1
        while probe >= 0 and _is_regional_indicator(text[probe]):
            run += 1
            probe -= 1
        return run % 2 == 0  # an odd run means `before` is the first half of a flag
    return True


def cut_safety(text: str) -> bytearray:
    """`is_safe_cut` for every position at once, in one pass (len(text) + 1 entries, 1 for
    safe). Callers that test many positions use this: the per-position test has to count
    a run of flag halves backwards each time."""
    safe = bytearray(b"\x01") * (len(text) + 1)
    flag_halves = 0  # regional indicators in a row, ending just before position i
    for index in range(1, len(text)):
        before, after = text[index - 1], text[index]
        flag_halves = flag_halves + 1 if _is_regional_indicator(before) else 0
        if (
            _is_extender(after)
            or before == "\u200d"
            or (before == "\r" and after == "\n")
            or (_is_regional_indicator(after) and flag_halves % 2 == 1)
        ):
            safe[index] = 0
    return safe


def safe_cut(text: str, index: int) -> int:
    """The largest cut position <= `index` that keeps grapheme clusters whole.

    Falls back to `index` itself when the whole prefix is one huge cluster (a run of
    thousands of combining marks): progress beats purity there.
    """
    index = max(0, min(index, len(text)))
    probe = index
    while probe > 0 and not is_safe_cut(text, probe):
        probe -= 1
    return probe if probe > 0 else index
