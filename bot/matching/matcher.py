"""The compiled matcher: scan an item once, then judge every topic on the hits.

Scoring (per topic, per item):

    score = weight * sum over the clauses that made the query true of
            (2.0 if the clause holds in the title) + (1.0 if it holds in the summary)

A clause is a term, a quoted phrase, a proximity group or a NEAR pair; each counts once
per field however often it occurs, so repetition does not inflate the score. A topic
matches when its query is true, no clause of the global `exclude` query holds, and the
score is >= its `min_score`. `weight` is the feed's weight (default 1.0; negative or
NaN counts as 0).

Pure: no I/O, no clock, no environment. A Matcher is immutable and can be shared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.matching.compiler import (
    Compiled,
    CompiledTopic,
    Leaf,
    TopicSpec,
    compile_topics,
)
from bot.matching.evaluate import (
    FIELD_NAMES,
    SUMMARY,
    TITLE,
    CClause,
    RawHit,
    Scan,
    clause_leaves,
    evaluate,
)
from bot.matching.explain import Explanation, TermReport
from bot.matching.scanner import Scanner
from bot.model import Hit, TopicMatch

TITLE_WEIGHT = 2.0
SUMMARY_WEIGHT = 1.0
MAX_HITS_REPORTED = 50
MAX_WEIGHT = 1e6


def compile_matcher(topics: Sequence[TopicSpec], exclude: str | None = None) -> Matcher:
    """Compile topics (and the global exclude query). Raises QueryError."""
    return Matcher(compile_topics(topics, exclude))


class Matcher:
    """All topics compiled into one pattern table; see `compile_matcher`.

    Per item: scan (see `scanner`), then evaluate only the topics whose trigger terms
    occur. Cost grows with the text, not with the number of terms.
    """

    def __init__(self, compiled: Compiled) -> None:
        self._compiled = compiled
        self._topics = compiled.topics
        self._exclude = compiled.exclude
        self._scanner = Scanner(compiled)

    @property
    def topics(self) -> tuple[CompiledTopic, ...]:
        return self._topics

    @property
    def pattern_count(self) -> int:
        return len(self._compiled.keys)

    def scan(self, title: str, summary: str) -> Scan:
        """Every occurrence of every term (what `explain` reports)."""
        return self._scanner.scan(title, summary)

    # -- verdicts ----------------------------------------------------------------------
    def match(self, title: str, summary: str, weight: float = 1.0) -> list[TopicMatch]:
        """Topics the item matches, in topic order, with evidence."""
        scan = self._scanner.scan(title, summary, gated=True)
        if not scan.hits:
            return []  # a query needs at least one found clause to be true (see parser)
        if self._vetoed(scan):
            return []
        w = _clean_weight(weight)
        present = scan.hits.keys()
        out: list[TopicMatch] = []
        for topic in self._topics:
            if topic.triggers.isdisjoint(present):
                continue
            fired: list[tuple[CClause, int]] = []
            if not evaluate(topic.root, scan, fired):
                continue
            masks = _merge(fired)
            score = w * _score(masks)
            if score < topic.min_score:
                continue
            out.append(
                TopicMatch(
                    topic.slug,
                    score,
                    hits=_fired_hits(masks, scan),
                    clauses=tuple(clause.label for clause in masks),
                )
            )
        return out

    def explain(self, title: str, summary: str, weight: float = 1.0) -> list[Explanation]:
        """A verdict for every topic, matched or not, with terms, variants and hits."""
        scan = self._scanner.scan(title, summary)
        w = _clean_weight(weight)
        excluded_by: tuple[str, ...] = ()
        if self._exclude is not None:
            fired: list[tuple[CClause, int]] = []
            if evaluate(self._exclude.root, scan, fired):
                excluded_by = tuple(c.label for c in _merge(fired))
        out: list[Explanation] = []
        for topic in self._topics:
            fired = []
            true = evaluate(topic.root, scan, fired)
            masks = _merge(fired) if true else {}
            score = w * _score(masks)
            if not true:
                found_any = not topic.leaf_ids.isdisjoint(scan.hits.keys())
                reason = "query not satisfied" if found_any else "no term found"
            elif excluded_by:
                reason = "vetoed by exclude: " + ", ".join(excluded_by)
            elif score < topic.min_score:
                reason = f"score {score:g} below min_score {topic.min_score:g}"
            else:
                reason = "matched"
            out.append(
                Explanation(
                    slug=topic.slug,
                    name=topic.name,
                    query=topic.query,
                    matched=reason == "matched",
                    score=score,
                    min_score=topic.min_score,
                    weight=w,
                    reason=reason,
                    clauses=tuple(c.label for c in masks),
                    terms=tuple(_term_report(leaf, scan) for leaf in topic.leaves),
                    excluded_by=excluded_by,
                )
            )
        return out

    def _vetoed(self, scan: Scan) -> bool:
        veto = self._exclude
        if veto is None or veto.leaf_ids.isdisjoint(scan.hits.keys()):
            return False
        return evaluate(veto.root, scan, [])


def _clean_weight(weight: float) -> float:
    if math.isnan(weight) or weight < 0:
        return 0.0
    return min(weight, MAX_WEIGHT)


def _merge(fired: list[tuple[CClause, int]]) -> dict[CClause, int]:
    """Clause -> fields it holds in (a clause may be reported by several branches)."""
    masks: dict[CClause, int] = {}
    for clause, mask in fired:
        masks[clause] = masks.get(clause, 0) | mask
    return masks


def _score(masks: dict[CClause, int]) -> float:
    total = 0.0
    for mask in masks.values():
        if mask & TITLE:
            total += TITLE_WEIGHT
        if mask & SUMMARY:
            total += SUMMARY_WEIGHT
    return total


def _to_hit(scan: Scan, raw: RawHit) -> Hit:
    fbit, start, end, shown = raw
    a, b = scan.texts[fbit].source_span(start, end)
    return Hit(shown, FIELD_NAMES[fbit], a, b)


def _fired_hits(masks: dict[CClause, int], scan: Scan) -> tuple[Hit, ...]:
    """Occurrences of the terms of the clauses that fired, in the fields they fired in."""
    raws: set[RawHit] = set()
    for clause, mask in masks.items():
        for leaf in clause_leaves(clause):
            raws.update(r for r in scan.hits.get(leaf, ()) if r[0] & mask)
    ordered = sorted(raws, key=lambda r: (r[0], r[1], r[2]))[:MAX_HITS_REPORTED]
    return tuple(_to_hit(scan, r) for r in ordered)


def _term_report(leaf: Leaf, scan: Scan) -> TermReport:
    raws = scan.hits.get(leaf.id, [])
    field = leaf.term.field or "any"
    return TermReport(
        term=leaf.term.text,
        clause=leaf.clause,
        field=field,
        negated=leaf.negated,
        case_sensitive=leaf.case_sensitive,
        variants=tuple(v.text + ("*" if v.prefix else "") for v in leaf.variants),
        hits=tuple(_to_hit(scan, r) for r in raws[:MAX_HITS_REPORTED]),
    )
