"""Offline sentence splitting for English, Spanish and Chinese.

Owns: where sentences end, from rules and short abbreviation tables kept in this file (no
model, no downloads). Rules, in order:

- A line break always ends a sentence (lines are blocks from `html_to_text`).
- 。！？ end a sentence wherever they stand (Chinese has no spaces), as do ! and ? right
  after a Han/kana/Hangul character; closing quotes and brackets after them stay with it.
- . ! ? … (plus closing quotes/brackets) end a sentence only when whitespace follows and
  the next word does not start in lower case. So "3.5%", "example.com" and "U.S. officials"
  never split, and neither does "¿Qué? dijo" ... but "¿Qué? ¿Cómo?" does.
- A single "." is not an end after: a title or other never-final abbreviation ("Mr.",
  "Sr.", "Sra.", "Dr.", "vs."), a single capital initial ("George W. Bush"), or a
  before-a-number abbreviation followed by a digit ("No. 5", "núm. 3", "Jan. 5").
- After an initialism ("U.S.", "EE.UU.", "p.m.") or a may-be-final abbreviation ("Inc.",
  "etc.", "Corp.") the sentence ends only when the next word is a common sentence opener
  ("The", "El", "But"...) or a quote/¿/¡ opens: "the U.S. The move" splits, "EE.UU. Barack
  Obama" does not.

`lang` ("en", "es", "zh", with or without region) picks the abbreviation tables; None uses
all of them, which is the safe choice for unknown text. Must not do I/O or truncation.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.text.chars import is_cjk

_NO_END = {
    "en": {
        "Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "Gen", "Gov", "Sen", "Rep", "Rev", "Hon", "Lt",
        "Col", "Capt", "Sgt", "Cmdr", "Adm", "Maj", "Pres", "Supt", "Det", "Insp", "St", "Mt",
        "Ft", "Messrs", "vs", "v", "e.g", "i.e", "cf", "ca", "approx", "Ave", "Blvd", "Rd",
    },
    "es": {
        "Sr", "Sra", "Srta", "Sres", "Sras", "Dr", "Dra", "Lic", "Ing", "Arq", "D", "Dña",
        "Da", "Ud", "Uds", "Vd", "Vds", "Excmo", "Excma", "Ilmo", "Ilma", "Mons", "Gral",
        "Cnel", "Tte", "Sto", "Sta", "Av", "Avda", "Pdte", "Prof", "vs", "p.ej", "ej",
        "aprox", "Dto", "Dpto",
    },
}
_BEFORE_NUMBER = {
    "en": {
        "No", "Nos", "Nr", "no", "p", "pp", "para", "art", "vol", "fig", "ch", "tel", "Jan",
        "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
    },
    "es": {
        "núm", "Núm", "nº", "n", "pág", "págs", "art", "arts", "vol", "cap", "tel", "fig",
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "sept", "oct", "nov",
        "dic",
    },
}
_MAY_END = {
    "en": {"Inc", "Ltd", "Corp", "Co", "Bros", "Jr", "Sr", "etc", "al", "Esq", "Plc", "LLC"},
    "es": {"etc", "S.A", "S.L", "Cía", "hnos", "Hnos"},
}
_OPENERS = frozenset(
    {
        # English
        "The", "A", "An", "It", "Its", "He", "She", "They", "We", "I", "You", "But", "And",
        "Or", "So", "Yet", "In", "On", "At", "For", "As", "If", "This", "That", "These",
        "Those", "There", "Their", "His", "Her", "Our", "Some", "Many", "Most", "Other",
        "After", "Before", "While", "When", "Meanwhile", "However", "Officials", "Still",
        "Now", "Then", "Last", "Earlier", "Later", "According", "Under", "Both",
        # Spanish
        "El", "La", "Los", "Las", "Un", "Una", "Unos", "Unas", "Este", "Esta", "Estos",
        "Estas", "Ese", "Esa", "Eso", "Es", "En", "Por", "Para", "Con", "Pero", "Sin",
        "Según", "Además", "También", "Ya", "Se", "Su", "Sus", "Al", "Lo", "Le", "Les",
        "No", "Tras", "Durante", "Mientras", "Así", "Ahora", "Hoy", "Ayer",
    }
)

_LATIN_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)")
_CJK_END = re.compile(r"[。！？]+[”’」』）》〉\"']*")
_ASCII_AFTER_CJK = re.compile(r"[!?]+[”’」』）》〉\"']*")
_INITIALISM = re.compile(r"^(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}$")
_WORD = re.compile(r"[^\W\d_]+")
_LEADING_PUNCT = "\"'“‘«([¿¡"

Span = tuple[int, int]


class _Tables:
    """Abbreviation tables for one language choice. All-lower-case entries ("vs", "e.g")
    match in any case ("Vs.", "E.g."); the others only as written ("No" but not "no")."""

    def __init__(self, langs: list[str]) -> None:
        no_end = set().union(*(_NO_END[name] for name in langs))
        self.no_end = {w for w in no_end if not w.islower()}
        self.no_end_any_case = {w for w in no_end if w.islower()}
        self.before_number: set[str] = set().union(*(_BEFORE_NUMBER[n] for n in langs))
        self.may_end: set[str] = set().union(*(_MAY_END[name] for name in langs))

    def never_final(self, word: str) -> bool:
        return word in self.no_end or word.lower() in self.no_end_any_case


@lru_cache(maxsize=16)
def _tables(lang: str | None) -> _Tables:
    code = (lang or "").lower().replace("_", "-").split("-")[0]
    return _Tables([code] if code in _NO_END else sorted(_NO_END))


def _next_opens_sentence(line: str, at: int) -> bool:
    if line[at] in _LEADING_PUNCT:
        return True
    word = _WORD.match(line, at)
    return word is not None and word.group() in _OPENERS


def _latin_boundary(
    line: str, mark_start: int, next_at: int, tables: _Tables
) -> bool:
    """Whether the . ! ? … run starting at `mark_start` ends a sentence, given that the
    next non-space character is at `next_at`."""
    nxt = line[next_at]
    if nxt.islower():
        return False
    marks = line[mark_start:].split(None, 1)[0]
    if marks[0] != "." or marks.startswith(".."):
        return True  # ! ? … and "..." end a sentence before a capital
    token_start = mark_start  # scanning back beats a regex search: this runs per candidate
    while token_start > 0 and not line[token_start - 1].isspace():
        token_start -= 1
    word = line[token_start:mark_start].lstrip(_LEADING_PUNCT)
    if not word:
        return True
    if tables.never_final(word):
        return False
    if word in tables.before_number and nxt.isdigit():
        return False
    if len(word) == 1 and word.isalpha() and word.isupper():
        return False  # a middle initial: "George W. Bush"
    if word in tables.may_end or _INITIALISM.match(word):
        return _next_opens_sentence(line, next_at)
    return True


def _line_ends(line: str, tables: _Tables) -> list[int]:
    """End offsets (exclusive, after closing quotes) of the sentences inside one line."""
    ends: set[int] = set()
    for match in _CJK_END.finditer(line):
        ends.add(match.end())
    for match in _ASCII_AFTER_CJK.finditer(line):
        if match.start() > 0 and is_cjk(line[match.start() - 1]):
            ends.add(match.end())
    for match in _LATIN_END.finditer(line):
        next_at = match.end()
        while next_at < len(line) and line[next_at].isspace():
            next_at += 1
        if next_at == len(line):
            continue  # end of line: a boundary anyway
        if _latin_boundary(line, match.start(), next_at, tables):
            ends.add(match.end())
    return sorted(ends)


def split_sentences(text: str, lang: str | None = None) -> list[Span]:
    """Sentence spans `(start, end)` into `text`, in order, without surrounding spaces."""
    tables = _tables(lang)
    spans: list[Span] = []
    offset = 0
    for line in text.split("\n"):
        start = 0
        for end in [*_line_ends(line, tables), len(line)]:
            piece = line[start:end]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                spans.append((offset + start + lead, offset + start + len(piece.rstrip())))
            start = end
        offset += len(line) + 1
    return spans
