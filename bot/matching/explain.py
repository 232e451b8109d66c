"""Why an item matched a topic, or did not: the data behind `newsbot match --explain`.

Positions in `Hit`s are character offsets into the title or summary exactly as the
caller passed them (before any normalisation), end exclusive.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.model import Hit


@dataclass(frozen=True, slots=True)
class TermReport:
    """One term of a topic's query and what the scan found for it."""

    term: str  # as written in the query
    clause: str  # the clause it belongs to (a proximity group or NEAR pair, or itself)
    field: str  # "title", "summary" or "any"
    negated: bool  # the term sits under NOT: finding it counts against the topic
    case_sensitive: bool
    variants: tuple[str, ...]  # every form searched for
    hits: tuple[Hit, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    """The verdict for one topic on one item."""

    slug: str
    name: str
    query: str
    matched: bool
    score: float
    min_score: float
    weight: float
    reason: str  # "matched", or why not
    clauses: tuple[str, ...]  # clauses that made the query true
    terms: tuple[TermReport, ...]
    excluded_by: tuple[str, ...] = ()  # clauses of the global exclude query that fired


def _hit_dict(hit: Hit) -> dict[str, object]:
    return {"term": hit.term, "field": hit.field, "start": hit.start, "end": hit.end}


def explanation_to_dict(e: Explanation) -> dict[str, object]:
    """JSON-ready form (plain dicts, lists, str, float, bool)."""
    return {
        "topic": e.slug,
        "name": e.name,
        "query": e.query,
        "matched": e.matched,
        "score": round(e.score, 4),
        "min_score": e.min_score,
        "weight": e.weight,
        "reason": e.reason,
        "clauses": list(e.clauses),
        "excluded_by": list(e.excluded_by),
        "terms": [
            {
                "term": t.term,
                "clause": t.clause,
                "field": t.field,
                "negated": t.negated,
                "case_sensitive": t.case_sensitive,
                "variants": list(t.variants),
                "hits": [_hit_dict(h) for h in t.hits],
            }
            for t in e.terms
        ],
    }
