"""Telegram HTML text rules: escaping, length as Telegram counts it, and splitting.

Owns: `escape`, `utf16_len`, `split_html` (markup-aware) and `split_text` (plain). Lengths
are UTF-16 code units of the text after entity parsing, which is what the Bot API limits
(4096 per message); tags cost nothing, `&lt;` costs one unit, an emoji outside the BMP two.

Splitting never cuts inside a tag, an entity or a grapheme cluster (as far as
`bot.text.chars.is_safe_cut` knows them); it closes the tags open at a cut and reopens them,
attributes included, at the start of the next chunk. It prefers, in order: a paragraph
break, a line break, a sentence end, a word boundary (a space, or next to CJK text), and a
cut only falls back to a weaker kind when no stronger one lies in the second half of the
window. The whitespace run at a cut is dropped (Telegram trims it anyway), so the chunks'
texts are the whole text's, minus whitespace at the cuts and at both ends.

Input repair, so that any text splits into valid messages: a `<`, `>` or `&` that does not
start a tag or one of Telegram's entities is escaped; a tag outside Telegram's set is
escaped into visible text; an end tag that closes nothing is dropped; mis-nested and
unclosed tags are closed. Attributes of Telegram's tags are passed through as given: their
validity is the caller's (the renderer only writes `href`, escaped). PURE: no I/O.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from bot.text.chars import cut_safety, is_cjk, is_cjk_punct

MAX_MESSAGE_UTF16 = 4096

_SUPPORTED_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
     "tg-emoji", "code", "pre", "blockquote"}
)
_MARKUP = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>"
    r"|&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));"
    r"|[<>&]"
)
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_STRAY = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_SENTENCE_MARKS = ".!?…。！？"
_CLOSERS = "\"'”’»)]）」』"

# Cut kinds, strongest first.
_PARAGRAPH, _LINE, _SENTENCE, _WORD, _ANY = 4, 3, 2, 1, 0


def escape(text: str) -> str:
    """Escape text for Telegram HTML, in element content and in quoted attributes alike."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of every Telegram length limit."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


@dataclass(frozen=True, slots=True)
class _Tag:
    name: str
    raw: str  # the start tag as written, to reopen it unchanged
    closing: bool


@dataclass(slots=True)
class _Document:
    text: str  # one character per atom (an entity is one atom)
    raw: list[str]  # the HTML of each atom
    tags_before: dict[int, list[_Tag]]  # tags between atom i-1 and atom i (i == len: trailing)


def _decode_entity(match: re.Match[str]) -> str | None:
    if match.group(6):
        return _NAMED[match.group(6)]
    digits = match.group(4) or match.group(5)
    code = int(digits, 10 if match.group(4) else 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _parse(html: str) -> _Document:
    text: list[str] = []
    raw: list[str] = []
    tags: dict[int, list[_Tag]] = {}

    def add_text(chunk: str, as_raw: str | None = None) -> None:
        for char in chunk:
            text.append(char)
            raw.append(_STRAY.get(char, char) if as_raw is None else as_raw)

    position = 0
    for match in _MARKUP.finditer(html):
        add_text(html[position : match.start()])
        position = match.end()
        token = match.group()
        if match.group(2) is not None:
            name = match.group(2).lower()
            if name in _SUPPORTED_TAGS:
                tags.setdefault(len(text), []).append(_Tag(name, token, bool(match.group(1))))
            else:
                add_text(token)  # unsupported tag: shown as text, escaped
        elif len(token) == 1:
            add_text(token)  # stray < > &
        else:
            decoded = _decode_entity(match)
            if decoded is None:
                add_text(token)  # an invalid reference is text, its & escaped
            else:
                add_text(decoded, token)
    add_text(html[position:])
    return _Document("".join(text), raw, tags)


def _kind_at(text: str, safe: bytearray, cut: int, run_newlines: int) -> int:
    """How good a cut before `text[cut]` is; `run_newlines` counts the newlines in the
    whitespace run that starts at `cut` (when it does)."""
    after, before = text[cut], text[cut - 1]
    if after.isspace():
        if run_newlines >= 2:
            return _PARAGRAPH
        if run_newlines == 1:
            return _LINE
        probe = cut - 1
        while probe > 0 and text[probe] in _CLOSERS:
            probe -= 1
        return _SENTENCE if text[probe] in _SENTENCE_MARKS else _WORD
    if not safe[cut]:
        return -1
    if before in "。！？" or (before in _CLOSERS and text[cut - 2 : cut - 1] in ("。", "！", "？")):
        return _SENTENCE
    if is_cjk(before) or is_cjk_punct(before) or is_cjk(after):
        return _WORD
    return _ANY


def _best_cut(text: str, safe: bytearray, start: int, window_end: int, stop: int) -> int:
    """The best cut in (start, window_end]; weaker kinds only count at or after `stop`
    unless nothing was found yet. Whitespace runs are judged at their first position."""
    newlines = 0
    probe = window_end
    while probe < len(text) and text[probe].isspace():
        newlines += text[probe] == "\n"
        probe += 1
    best: dict[int, int] = {}
    for candidate in range(window_end, start, -1):
        if candidate < stop and best:
            break
        char = text[candidate]
        if candidate < window_end and char.isspace():
            joined = text[candidate + 1].isspace()
            newlines = (newlines if joined else 0) + (char == "\n")
        if char.isspace() and text[candidate - 1].isspace():
            continue  # inside a run: its first position stands for it
        kind = _kind_at(text, safe, candidate, newlines)
        if kind >= 0 and kind not in best:
            best[kind] = candidate
            if kind == _PARAGRAPH:
                break
    return best[max(best)] if best else window_end


def _cut_ranges(text: str, limit: int) -> list[tuple[int, int]]:
    """Atom ranges [start, end) of the chunks; whitespace at the cuts and ends excluded."""
    if limit < 2:
        raise ValueError("limit must be at least 2 UTF-16 units (one astral character)")
    prefix = [0]
    for char in text:
        prefix.append(prefix[-1] + (2 if ord(char) > 0xFFFF else 1))
    safe = cut_safety(text)
    ranges: list[tuple[int, int]] = []
    start = 0
    size = len(text)
    while True:
        while start < size and text[start].isspace():
            start += 1
        if start >= size:
            return ranges
        window_end = bisect_right(prefix, prefix[start] + limit) - 1  # last cut that fits
        if window_end >= size:
            cut = size
        else:
            stop = bisect_left(prefix, prefix[start] + limit // 2)
            cut = _best_cut(text, safe, start, window_end, stop)
        end = cut
        while end > start and text[end - 1].isspace():
            end -= 1
        ranges.append((start, end))
        start = cut


def split_text(text: str, limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Split plain text (sent without parse_mode) into non-empty chunks of at most `limit`
    UTF-16 units, preferring the same boundaries as `split_html`."""
    return [text[start:end] for start, end in _cut_ranges(text, limit)]


def split_html(html: str, limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Split Telegram HTML into chunks whose parsed text is non-empty and at most `limit`
    UTF-16 units; each chunk is well-formed on its own (see the module docstring).
    Returns [] when there is no visible text at all."""
    doc = _parse(html)
    chunks: list[str] = []
    stack: list[_Tag] = []
    done: dict[int, int] = {}  # how many of tags_before[i] have been applied
    applied = 0  # every tags_before[i] with i < applied is fully applied

    def apply(index: int, out: list[str] | None, closes_only: bool = False) -> None:
        """Apply the tags before atom `index` to the stack, writing them to `out`."""
        tags = doc.tags_before.get(index, [])
        position = done.get(index, 0)
        while position < len(tags):
            tag = tags[position]
            if closes_only and not tag.closing:
                break
            position += 1
            if not tag.closing:
                stack.append(tag)
                if out is not None:
                    out.append(tag.raw)
                continue
            depth = next(
                (d for d in range(len(stack) - 1, -1, -1) if stack[d].name == tag.name), None
            )
            if depth is None:
                continue  # closes nothing: dropped
            while len(stack) > depth:  # mis-nested input: close what lies above it too
                closed = stack.pop()
                if out is not None:
                    out.append(f"</{closed.name}>")
        done[index] = position

    for start, end in _cut_ranges(doc.text, limit):
        while applied <= start:
            apply(applied, None)
            applied += 1
        out = [tag.raw for tag in stack]
        for index in range(start, end):
            if index > start:
                apply(index, out)
            out.append(doc.raw[index])
        # End tags right after the last character belong to this chunk: reopening them in
        # the next one would only make empty entities.
        apply(end, out, closes_only=True)
        applied = end
        out.extend(f"</{tag.name}>" for tag in reversed(stack))
        chunks.append("".join(out))
    return chunks
