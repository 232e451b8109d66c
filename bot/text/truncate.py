"""Bounded truncation with an ellipsis.

Owns: cutting one piece of text to at most `max_chars` code points at the best place
available: a word boundary (a space, or between CJK characters / after CJK punctuation),
else a grapheme-safe position. Must not know about sentences (see `bot.text.sentences`).
"""

from __future__ import annotations

from bot.text.chars import ELLIPSIS, is_cjk, is_cjk_punct, safe_cut

# Dangling punctuation that looks broken right before an ellipsis.
_DANGLING = " \n,;:.-–—/([{«“‘\"'¿¡、，；：（《「『"


def _cjk_cut(text: str, room: int) -> int | None:
    """A cut position in a CJK run: after full-width punctuation in the last third of the
    window, else between two characters when the text at the cut is CJK. (Every CJK
    character is a word, so a clause mark further back would throw away real content.)"""
    for index in range(room, 2 * room // 3, -1):
        if is_cjk_punct(text[index - 1]):
            return index
    if is_cjk(text[room - 1]) or is_cjk(text[room]):
        return room
    return None


def truncate(text: str, max_chars: int) -> str:
    """`text` if it fits in `max_chars` code points, else a prefix cut at a word boundary
    with "…" appended, the whole at most `max_chars` long."""
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    if max_chars == 1:
        return ELLIPSIS
    room = max_chars - 1  # one code point is kept for the ellipsis
    space = max(text.rfind(" ", 0, room + 1), text.rfind("\n", 0, room + 1))
    cut: int | None = space if space >= room // 2 else None
    if cut is None:
        cut = _cjk_cut(text, room)
    if cut is None or cut == 0:
        cut = safe_cut(text, room)
    head = text[:cut].rstrip(_DANGLING)
    if not head:  # the prefix was all punctuation: keep it rather than print a lone "…"
        head = text[: safe_cut(text, room)]
    return head + ELLIPSIS
