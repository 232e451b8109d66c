"""Feed HTML to plain text.

Owns: dropping tags, decoding entities, removing non-content elements (scripts, styles,
forms, embeds, captions, navigation), keeping block structure as line breaks, folding
whitespace and bounding the work. Must not judge content (boilerplate is
`bot.text.boilerplate`'s job) and must not escape anything for output.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from bot.text.chars import clean_chars, fold_spaces

# Elements whose content is never article text. `figcaption` is there because captions and
# photo credits ("Photograph: X/Getty") read as nonsense inside a two-sentence lead.
_SKIPPED = frozenset(
    {
        "script", "style", "noscript", "template", "head", "title", "iframe", "object",
        "embed", "svg", "math", "canvas", "video", "audio", "button", "select", "textarea",
        "form", "nav", "aside", "footer", "figcaption",
    }
)
# Void elements never get an end tag, so they must not open a skipped region.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr"}
)
# Elements that start a new line of text (so lists and paragraphs stay separable).
_BLOCK = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5",
        "h6", "blockquote", "pre", "table", "tr", "section", "article", "header", "figure",
        "hr", "address", "center", "main", "details", "summary", "caption",
    }
)
_CELL = frozenset({"td", "th"})
_NEWLINE_RUN = re.compile(r"[\r\n]+")
# Text that still looks like markup after one pass: the feed escaped its HTML twice.
_DOUBLE_ESCAPED = re.compile(
    r"</?(?:p|br|div|span|a|img|strong|em|b|i|ul|ol|li|h[1-6]|table|tr|td|figure|"
    r"figcaption|blockquote|script|style|iframe)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)


# Any tag at all: without one the input is plain text whose newlines are paragraph breaks.
_ANY_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")


class _TextExtractor(HTMLParser):
    def __init__(self, keep_newlines: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []
        self._keep_newlines = keep_newlines

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED and tag not in _VOID:
            self._skipping.append(tag)
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag in _CELL:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<br/>`, `<figcaption/>`: nothing to skip, but a break is still a break.
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                # Close the innermost matching skipped element (and anything left open in it).
                while self._skipping and self._skipping.pop() != tag:
                    pass
            return
        if tag in _BLOCK:
            self.parts.append("\n")
        elif tag in _CELL:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            # In HTML a newline in text is just a space (pretty-printed feeds are full of
            # them); only block elements break lines.
            self.parts.append(data if self._keep_newlines else _NEWLINE_RUN.sub(" ", data))


def _drop_partial_tag(html: str) -> str:
    """A bounded input may end inside a tag; the parser would emit that tag as text."""
    last_open = html.rfind("<")
    if last_open > html.rfind(">"):
        return html[:last_open]
    return html


def _extract(html: str) -> str:
    parser = _TextExtractor(keep_newlines=_ANY_TAG.search(html) is None)
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def html_to_text(html: str, max_input_chars: int = 200_000) -> str:
    """Visible text of a feed HTML fragment: one line per block, words separated by single
    spaces, no empty lines, no control characters. Input without any tag is taken as plain
    text, its line breaks kept.

    Only the first `max_input_chars` of the input are read, so a hostile 50 MB description
    costs a bounded amount of work. When the result still contains markup (feeds that
    escape their HTML twice), it gets exactly one more pass.
    """
    text = _extract(_drop_partial_tag(html[:max_input_chars]))
    if _DOUBLE_ESCAPED.search(text):
        text = _extract(_drop_partial_tag(text))
    return fold_spaces(clean_chars(text))
