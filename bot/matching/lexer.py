"""Query string -> tokens. Errors carry the 1-based column of the offending character.

Operators are written in capitals (`AND`, `OR`, `NOT`, `NEAR/5`); the same words in
lower case are rejected rather than silently searched for, because `tariff or duty`
almost certainly meant `tariff OR duty`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.errors import QueryError
from bot.matching.syntax import FIELDS

TokenKind = Literal[
    "LPAREN", "RPAREN", "AND", "OR", "NOT", "NEAR", "MINUS", "FIELD", "WORD", "PHRASE"
]

MAX_DISTANCE = 50
_NEAR_RE = re.compile(r"NEAR/([0-9]{1,3})")
_SPECIAL = '()"'


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the source text of the token
    start: int  # 0-based
    end: int
    number: int = -1  # NEAR distance, or phrase slop (-1: none)
    inner: str = ""  # phrase text between the quotes; field name for FIELD


def tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            tokens.append(Token("LPAREN", ch, i, i + 1))
            i += 1
        elif ch == ")":
            tokens.append(Token("RPAREN", ch, i, i + 1))
            i += 1
        elif ch == '"':
            i = _lex_phrase(src, i, tokens)
        elif ch == "-":
            if i + 1 >= n or src[i + 1].isspace() or src[i + 1] == ")":
                raise QueryError(
                    "'-' must be followed by a term without a space (-term means NOT term)",
                    i + 1,
                )
            tokens.append(Token("MINUS", ch, i, i + 1))
            i += 1
        else:
            i = _lex_bare(src, i, tokens)
    return tokens


def _lex_phrase(src: str, i: int, tokens: list[Token]) -> int:
    close = src.find('"', i + 1)
    if close < 0:
        raise QueryError('unclosed quote: add the closing "', i + 1)
    end = close + 1
    slop = -1
    if end < len(src) and src[end] == "~":
        j = end + 1
        while j < len(src) and src[j].isdigit():
            j += 1
        digits = src[end + 1 : j]
        if not digits:
            raise QueryError(
                '\'~\' must be followed by a number, e.g. "rare earth export"~8', end + 1
            )
        if len(digits) > 3 or int(digits) > MAX_DISTANCE:
            raise QueryError(f"proximity must be between 0 and {MAX_DISTANCE}", end + 2)
        slop = int(digits)
        end = j
    tokens.append(Token("PHRASE", src[i:end], i, end, number=slop, inner=src[i + 1 : close]))
    return end


def _lex_bare(src: str, i: int, tokens: list[Token]) -> int:
    j = i
    n = len(src)
    while j < n and not src[j].isspace() and src[j] not in _SPECIAL:
        j += 1
    run = src[i:j]
    colon = run.find(":")
    if colon >= 0:
        name = run[:colon]
        if name.lower() not in FIELDS:
            shown = f"'{name}:'" if name else "':'"
            raise QueryError(
                f"unknown field {shown}: fields are title: and summary: "
                '(put the text in quotes to search for a colon)',
                i + 1,
            )
        after = i + colon + 1
        if after >= n or src[after].isspace() or src[after] == ")":
            raise QueryError(f"{name}: needs a term right after the colon", i + 1)
        tokens.append(Token("FIELD", src[i:after], i, after, inner=name.lower()))
        return after
    if run in ("AND", "OR", "NOT"):
        tokens.append(Token("AND" if run == "AND" else "OR" if run == "OR" else "NOT", run, i, j))
        return j
    if run.upper().startswith("NEAR/") or run == "NEAR":
        m = _NEAR_RE.fullmatch(run)
        if run == "NEAR" or (m is None and run.startswith("NEAR/")):
            raise QueryError(
                f"NEAR needs a distance in words, e.g. NEAR/5 (0 to {MAX_DISTANCE})", i + 1
            )
        if m is None:
            raise QueryError(f"write operators in capitals: {run.upper()}", i + 1)
        distance = int(m.group(1))
        if distance > MAX_DISTANCE:
            raise QueryError(f"NEAR distance must be between 0 and {MAX_DISTANCE}", i + 6)
        tokens.append(Token("NEAR", run, i, j, number=distance))
        return j
    if run.lower() in ("and", "or", "not"):
        raise QueryError(
            f"write operators in capitals ({run.upper()}), or put \"{run}\" in quotes "
            "to search for the word",
            i + 1,
        )
    tokens.append(Token("WORD", run, i, j))
    return j
