"""Character classes the matcher needs: which script a character belongs to.

Kept apart so normalisation, the CJK guard and the scanner agree on one definition.
Ranges are explicit code-point ranges (not `unicodedata` categories) because they are
called per hit on the hot path and must be cheap.
"""

from __future__ import annotations

import re

# Han ideographs: CJK Unified (+ Extension A), compatibility ideographs, Extensions B..G.
_HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANA_RANGES = "\u3040-\u30ff\u31f0-\u31ff"

HAN_RE = re.compile(f"[{_HAN_RANGES}]")
KANA_RE = re.compile(f"[{_KANA_RANGES}]")

# A token for proximity: one Han/kana character (those scripts have no spaces, so a
# character is the only unit we can count without a dictionary), or a run of other
# word characters.
TOKEN_RE = re.compile(f"[{_HAN_RANGES}{_KANA_RANGES}]|[^\\W{_HAN_RANGES}{_KANA_RANGES}]+")


def is_han(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or (
        0x20000 <= o <= 0x3134F
    )


def is_katakana(ch: str) -> bool:
    o = ord(ch)
    return 0x30A0 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF


def is_kana(ch: str) -> bool:
    o = ord(ch)
    return 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF


def is_cjk(ch: str) -> bool:
    """Han or kana: scripts written without spaces between words."""
    return is_han(ch) or is_kana(ch)


def is_word_char(ch: str) -> bool:
    """A letter or digit of a spaced script: what a word boundary must not cut through.

    Han and kana are excluded so that `H20芯片` still has a boundary after `H20`.
    """
    if ch.isascii():
        return ch.isalnum()
    return ch.isalnum() and not is_cjk(ch)
