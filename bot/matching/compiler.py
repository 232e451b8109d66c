"""Topic specs -> one Aho-Corasick pattern table for all topics + one tree per topic.

Every term of every topic (and of the global `exclude` query) becomes a *leaf* with
its explicit variants. Each variant's normalised key goes into a single pattern table,
so scanning an item costs one pass per field however many topics and terms there are.
A key shared by several leaves is searched once and fans out to each leaf's checks
(word boundaries, CJK guard, case).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.matching.charclass import is_han, is_katakana, is_word_char
from bot.matching.evaluate import (
    SUMMARY,
    TITLE,
    CNear,
    CNode,
    CProx,
    CTerm,
    make_and,
    make_not,
    make_or,
    triggers,
)
from bot.matching.parser import parse_query
from bot.matching.syntax import And, Field, Near, Node, Not, Proximity, Query, Term
from bot.matching.variants import Variant, is_case_sensitive, term_variants

# How an edge of a match is checked against its neighbour.
EDGE_NONE = 0  # punctuation edge, hiragana, or the open end of a wildcard
EDGE_WORD = 1  # spaced scripts: the neighbour must not be a letter or digit
EDGE_HAN = 2  # Chinese/kanji: no dictionary word may cross the edge (see cjk)
EDGE_KATAKANA = 3  # the neighbour must not be katakana

EXCLUDE_SLUG = "@exclude"

# (leaf id, field mask, left edge, right edge, case checks, prefix, variant text)
Entry = tuple[int, int, int, int, tuple[tuple[int, str], ...], bool, str]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as configured: `query` in the query language, alerts at `min_score`."""

    slug: str
    name: str
    query: str
    min_score: float = 0.0


@dataclass(frozen=True, slots=True)
class Leaf:
    """One term of one topic, with the forms searched for."""

    id: int
    term: Term
    clause: str  # label of the clause the term belongs to
    negated: bool  # under NOT: evidence against the topic
    variants: tuple[Variant, ...]
    fields: int  # bit mask of the fields searched
    case_sensitive: bool


@dataclass(frozen=True, slots=True)
class CompiledTopic:
    slug: str
    name: str
    query: str
    min_score: float
    root: CNode
    leaves: tuple[Leaf, ...]
    leaf_ids: frozenset[int]
    triggers: frozenset[int]  # at least one of these leaves must be found (see evaluate)


@dataclass(frozen=True, slots=True)
class Compiled:
    topics: tuple[CompiledTopic, ...]
    exclude: CompiledTopic | None
    keys: tuple[str, ...]
    entries: tuple[tuple[Entry, ...], ...]  # parallel to keys
    trigger_leaves: frozenset[int]  # union of the topics' triggers
    trigger_keys: frozenset[int]  # keys with an entry for a trigger leaf (index in keys)


def field_mask(field: Field | None) -> int:
    if field == "title":
        return TITLE
    if field == "summary":
        return SUMMARY
    return TITLE | SUMMARY


def clause_label(clause: Term | Proximity | Near) -> str:
    """The clause as the operator wrote it, with its field scope made explicit."""
    field = clause.left[0].field if isinstance(clause, Near) else clause.field
    text = " ".join(clause.text.split())  # multi-line queries: one line per clause
    if field is None:
        return text
    if isinstance(clause, Near):
        return f"{field}:({text})"
    return f"{field}:{text}"


def edge_mode(ch: str) -> int:
    if is_han(ch):
        return EDGE_HAN
    if is_katakana(ch):
        return EDGE_KATAKANA
    if is_word_char(ch):
        return EDGE_WORD
    return EDGE_NONE


class _Builder:
    def __init__(self) -> None:
        self.key_index: dict[str, int] = {}
        self.entries: list[list[Entry]] = []
        self.leaf_count = 0
        self.clause_count = 0

    def topic(self, slug: str, name: str, query: Query, min_score: float) -> CompiledTopic:
        leaves: list[Leaf] = []
        root = self.node(query.root, False, leaves)
        all_ids = frozenset(leaf.id for leaf in leaves)
        by_id = {leaf.id: leaf for leaf in leaves}

        def rarity(leaf_id: int) -> float:
            # a phrase occurs far less often than a single word
            return 0.25 if len(by_id[leaf_id].term.words) > 1 else 1.0

        # parse_query rejects queries that hold with nothing found, so a set exists
        trigger_ids = triggers(root, rarity) or all_ids
        return CompiledTopic(
            slug, name, query.source, min_score, root, tuple(leaves), all_ids, trigger_ids
        )

    def node(self, node: Node, negated: bool, leaves: list[Leaf]) -> CNode:
        if isinstance(node, Term):
            label = clause_label(node)
            return CTerm(self.next_clause(), self.leaf(node, label, negated, leaves), label)
        if isinstance(node, Proximity):
            label = clause_label(node)
            ids = tuple(self.leaf(t, label, negated, leaves) for t in node.terms)
            return CProx(self.next_clause(), ids, node.slop, label)
        if isinstance(node, Near):
            label = clause_label(node)
            left = tuple(self.leaf(t, label, negated, leaves) for t in node.left)
            right = tuple(self.leaf(t, label, negated, leaves) for t in node.right)
            return CNear(self.next_clause(), left, right, node.distance, label)
        if isinstance(node, Not):
            return make_not(self.node(node.child, not negated, leaves))
        children = tuple(self.node(c, negated, leaves) for c in node.children)
        return make_and(children) if isinstance(node, And) else make_or(children)

    def next_clause(self) -> int:
        self.clause_count += 1
        return self.clause_count

    def leaf(self, term: Term, label: str, negated: bool, leaves: list[Leaf]) -> int:
        leaf_id = self.leaf_count
        self.leaf_count += 1
        variants = tuple(term_variants(term.words, term.wildcard))
        fields = field_mask(term.field)
        for v in variants:
            left = edge_mode(v.key[0])
            right = EDGE_NONE if v.prefix else edge_mode(v.key[-1])
            idx = self.key_index.get(v.key)
            if idx is None:
                idx = self.key_index[v.key] = len(self.entries)
                self.entries.append([])
            entry = (leaf_id, fields, left, right, v.case_checks, v.prefix, v.text)
            self.entries[idx].append(entry)
        sensitive = any(is_case_sensitive(w) for w in term.words)
        leaves.append(Leaf(leaf_id, term, label, negated, variants, fields, sensitive))
        return leaf_id


def compile_topics(topics: Sequence[TopicSpec], exclude: str | None) -> Compiled:
    """Parse and compile; raises QueryError for the first bad query, ValueError for a
    repeated slug (callers validate each query with `parse_query` first)."""
    builder = _Builder()
    compiled: list[CompiledTopic] = []
    seen: set[str] = set()
    for spec in topics:
        if spec.slug in seen:
            raise ValueError(f"topic slug {spec.slug!r} is used twice")
        seen.add(spec.slug)
        query = parse_query(spec.query)
        compiled.append(builder.topic(spec.slug, spec.name, query, spec.min_score))
    veto = None
    if exclude is not None and exclude.strip():
        veto = builder.topic(EXCLUDE_SLUG, "exclude", parse_query(exclude), 0.0)
    keys = tuple(builder.key_index)
    entries = tuple(tuple(e) for e in builder.entries)
    trigger_leaves = frozenset().union(*(t.triggers for t in compiled))
    trigger_keys = frozenset(
        i for i, group in enumerate(entries) if any(e[0] in trigger_leaves for e in group)
    )
    return Compiled(tuple(compiled), veto, keys, entries, trigger_leaves, trigger_keys)
