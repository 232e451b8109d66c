"""The parsed form of a topic query (the AST). Produced by `parser`, read by `compiler`.

Every node keeps its [start, end) span in the query string, so errors and
explanations can quote the operator's own text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Field = Literal["title", "summary"]
FIELDS: tuple[Field, ...] = ("title", "summary")


@dataclass(frozen=True, slots=True)
class Term:
    """A word, a hyphenated word or a quoted phrase; the unit the text is searched for.

    `words` are as written, split on spaces and on hyphens between letters
    (`rare-earth` -> ("rare", "earth")), so spacing variants can be generated.
    """

    words: tuple[str, ...]
    quoted: bool
    wildcard: bool  # trailing `*`: the last word is a prefix
    field: Field | None  # None: title and summary
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Proximity:
    """`"w1 w2 w3"~N`: every word present, at most N other words among them, any order."""

    terms: tuple[Term, ...]
    slop: int
    field: Field | None
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Near:
    """`a NEAR/N b`: some a and some b with at most N words between them, either order."""

    left: tuple[Term, ...]
    right: tuple[Term, ...]
    distance: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    start: int
    end: int


Clause = Term | Proximity | Near
Node = Term | Proximity | Near | And | Or | Not


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed, validated query: what `parse_query` returns."""

    source: str
    root: Node

    def clauses(self) -> list[Clause]:
        """Clauses (terms, proximity groups, NEAR pairs) in query order."""
        return [c for c, _ in iter_clauses(self.root)]

    def terms(self) -> list[Term]:
        out: list[Term] = []
        for clause in self.clauses():
            if isinstance(clause, Term):
                out.append(clause)
            elif isinstance(clause, Proximity):
                out.extend(clause.terms)
            else:
                out.extend(clause.left)
                out.extend(clause.right)
        return out


def iter_clauses(node: Node, negated: bool = False) -> Iterator[tuple[Clause, bool]]:
    """Clauses under `node` with whether they sit under an odd number of NOTs."""
    if isinstance(node, Term | Proximity | Near):
        yield node, negated
    elif isinstance(node, Not):
        yield from iter_clauses(node.child, not negated)
    else:
        for child in node.children:
            yield from iter_clauses(child, negated)


def satisfiable_without_terms(node: Node) -> bool:
    """Would the query match a text in which none of its clauses is found?

    Such a query (`NOT x`, `a OR -b`) matches nearly every item: rejected at parse time.
    It also lets the matcher skip topics none of whose terms occur in an item.
    """
    if isinstance(node, Term | Proximity | Near):
        return False
    if isinstance(node, Not):
        return not satisfiable_without_terms(node.child)
    if isinstance(node, And):
        return all(satisfiable_without_terms(c) for c in node.children)
    return any(satisfiable_without_terms(c) for c in node.children)
