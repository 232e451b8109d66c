"""Alert summaries: feed HTML in, a short plain-text lead out.

Owns the public text API of the core: `html_to_text`, `strip_boilerplate`, `lead` and
`summarize` (the rules live in `bot.text.*`; their docstrings list them). Items in Spanish
or Chinese are summarised in their own language: nothing here translates.

PURE: no network, no DB, no clock, no env, no model or data downloads. Must not escape
for Telegram (that is `bot.delivery.render`'s job) nor fetch article pages (the optional
full-text fetch belongs to the I/O shell, which passes its text in as `content_html`).
"""

from __future__ import annotations

from bot.text.boilerplate import strip_boilerplate
from bot.text.chars import ELLIPSIS, clean_chars, fold_line, fold_spaces, is_cjk, is_cjk_punct
from bot.text.html_text import html_to_text
from bot.text.sentences import split_sentences
from bot.text.truncate import truncate

__all__ = ["html_to_text", "lead", "pick_source_text", "split_sentences", "strip_boilerplate",
           "summarize", "truncate"]

# A description shorter than this is a label, not a summary ("EFE", "Video"), so a longer
# content:encoded wins over it.
_MIN_USEFUL_CHARS = 100
_LOOKAHEAD_CHARS = 200
# What a complete sentence ends with (closing quotes and brackets included).
_END_MARKS = tuple(".!?…。！？\"'”’»)]）」』")


def _joiner(left: str, right: str) -> str:
    """Chinese sentences are written back to back; everything else takes one space."""
    edge, start = left[-1], right[0]
    if (is_cjk(edge) or is_cjk_punct(edge)) and is_cjk(start):
        return ""
    return " "


def lead(text: str, max_chars: int = 300, lang: str | None = None) -> str:
    """The first one or two sentences of `text` in at most `max_chars` code points.

    The second sentence is added only when it fits whole. A first sentence longer than
    `max_chars` is cut at a word boundary (between characters for CJK) and ends in "…";
    a lead made of whole sentences gets no ellipsis even when the text goes on. A first
    sentence that lacks an end mark (a standfirst line) is used alone.
    """
    text = fold_spaces(clean_chars(text))
    if not text or max_chars <= 0:
        return ""
    # Two sentences that fit lie in the first max_chars; the margin covers the look-ahead
    # a boundary decision needs (the next word). This bounds the work on huge inputs.
    spans = split_sentences(text[: max_chars + _LOOKAHEAD_CHARS], lang)
    first = fold_line(text[spans[0][0] : spans[0][1]])
    if len(first) > max_chars:
        return truncate(first, max_chars)
    # A first "sentence" without an end mark is a headline-style standfirst; gluing the next
    # paragraph to it would read as one run-on sentence, and it is a summary on its own.
    if len(spans) > 1 and first.endswith(_END_MARKS):
        second = fold_line(text[spans[1][0] : spans[1][1]])
        both = first + _joiner(first, second) + second
        if len(both) <= max_chars:
            return both
    return first


def _clean(html: str) -> str:
    return strip_boilerplate(html_to_text(html))


def _is_teaser(short: str, long: str) -> bool:
    """Whether `short` is a cut-down copy of `long` (WordPress excerpts, "first N words…")."""
    if short.endswith((ELLIPSIS, "...")):
        return True
    head = fold_line(short).casefold()
    return fold_line(long).casefold().startswith(head)


def pick_source_text(
    summary_html: str, content_html: str, min_useful: int = _MIN_USEFUL_CHARS
) -> str:
    """The cleaned text a summary should be taken from.

    content:encoded wins when it is richer: longer than the description and the
    description is either missing, too short to be a summary, or only a teaser cut from
    the content. Otherwise the description wins: it is usually written as a standfirst,
    while content's first paragraph may be an anecdote or an image caption.
    """
    described = _clean(summary_html) if summary_html else ""
    content = _clean(content_html) if content_html else ""
    if len(content) <= len(described):
        return described
    if len(described) < min_useful or _is_teaser(described, content):
        return content
    return described


def summarize(
    summary_html: str, content_html: str, max_chars: int = 300, lang: str | None = None
) -> str:
    """Plain-text lead for an alert: best source text, cleaned, first 1-2 sentences.

    `max_chars` counts code points; the result never exceeds it."""
    # With a small budget, a description of half of it is already a full summary.
    min_useful = min(_MIN_USEFUL_CHARS, max_chars // 2)
    return lead(pick_source_text(summary_html, content_html, min_useful), max_chars, lang)
