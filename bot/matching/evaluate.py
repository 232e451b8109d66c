"""Evaluate compiled topic trees on the hits of one item.

The scanner (see `matcher`) has already found every term occurrence, with its field
and character span. Here we only decide which clauses hold, in which field, and which
of them made the topic true. Positional clauses (proximity, NEAR) count tokens: a run
of letters/digits, or one Han/kana character.
Pure: no I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from bot.matching.charclass import TOKEN_RE
from bot.matching.normalize import NormText

TITLE = 1
SUMMARY = 2
FIELD_BITS = (TITLE, SUMMARY)
FIELD_NAMES = {TITLE: "title", SUMMARY: "summary"}

# (field bit, start, end, variant text) in the normalised text of that field
RawHit = tuple[int, int, int, str]


@dataclass(frozen=True, slots=True)
class CTerm:
    cid: int
    leaf: int
    label: str


@dataclass(frozen=True, slots=True)
class CProx:
    cid: int
    leaves: tuple[int, ...]
    slop: int
    label: str


@dataclass(frozen=True, slots=True)
class CNear:
    cid: int
    left: tuple[int, ...]
    right: tuple[int, ...]
    distance: int
    label: str


@dataclass(frozen=True, slots=True)
class CAnd:
    children: tuple[CNode, ...]
    leaves: frozenset[int]  # every leaf below: a subtree with none found is skipped
    empty: bool  # the value when none of those leaves was found


@dataclass(frozen=True, slots=True)
class COr:
    children: tuple[CNode, ...]
    leaves: frozenset[int]
    empty: bool
    # leaf -> positions of the children that contain it: with a hundred alternatives,
    # only the few children whose terms occur in the item are visited
    index: dict[int, tuple[int, ...]]
    any_empty_child: bool  # some child is true when none of its leaves is found


@dataclass(frozen=True, slots=True)
class CNot:
    child: CNode
    leaves: frozenset[int]
    empty: bool


CClause = CTerm | CProx | CNear
CNode = CTerm | CProx | CNear | CAnd | COr | CNot


def clause_leaves(clause: CClause) -> tuple[int, ...]:
    if isinstance(clause, CTerm):
        return (clause.leaf,)
    if isinstance(clause, CProx):
        return clause.leaves
    return clause.left + clause.right


def node_leaves(node: CNode) -> frozenset[int]:
    if isinstance(node, CTerm | CProx | CNear):
        return frozenset(clause_leaves(node))
    return node.leaves


def node_empty(node: CNode) -> bool:
    """Value of `node` when none of its terms is found."""
    if isinstance(node, CTerm | CProx | CNear):
        return False
    return node.empty


def triggers(node: CNode, weight: Callable[[int], float]) -> frozenset[int] | None:
    """Leaves of which at least one must be found for `node` to be true.

    None when no such set exists (the node can be true with nothing found). For AND one
    child's set is enough; we take the one likely to occur least often (by `weight`,
    an estimate per leaf), so a topic whose terms are mostly context words
    (`tariff* AND (China OR US OR ...)`) is only looked at when `tariff*` occurs.
    """
    if isinstance(node, CTerm):
        return frozenset((node.leaf,))
    if isinstance(node, CProx):
        return frozenset((min(node.leaves, key=weight),))
    if isinstance(node, CNear):
        left = sum(weight(leaf) for leaf in node.left)
        right = sum(weight(leaf) for leaf in node.right)
        return frozenset(node.left if left <= right else node.right)
    if isinstance(node, CNot):
        return None
    if isinstance(node, COr):
        out: set[int] = set()
        for child in node.children:
            found = triggers(child, weight)
            if found is None:
                return None
            out |= found
        return frozenset(out)
    candidates = [t for t in (triggers(c, weight) for c in node.children) if t is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda t: sum(weight(leaf) for leaf in t))


def make_and(children: tuple[CNode, ...]) -> CAnd:
    leaves = frozenset().union(*(node_leaves(c) for c in children))
    return CAnd(children, leaves, all(node_empty(c) for c in children))


def make_or(children: tuple[CNode, ...]) -> COr:
    leaves = frozenset().union(*(node_leaves(c) for c in children))
    index: dict[int, list[int]] = {}
    for i, child in enumerate(children):
        for leaf in node_leaves(child):
            index.setdefault(leaf, []).append(i)
    any_empty = any(node_empty(c) for c in children)
    frozen = {leaf: tuple(positions) for leaf, positions in index.items()}
    return COr(children, leaves, any_empty, frozen, any_empty)


def make_not(child: CNode) -> CNot:
    return CNot(child, node_leaves(child), not node_empty(child))


class Scan:
    """What the scanner found in one item."""

    __slots__ = ("_tokens", "hits", "texts")

    def __init__(self, texts: dict[int, NormText], hits: dict[int, list[RawHit]]) -> None:
        self.texts = texts
        self.hits = hits
        self._tokens: dict[int, list[int]] = {}

    def token_index(self, fbit: int, pos: int) -> int:
        starts = self._tokens.get(fbit)
        if starts is None:
            starts = [m.start() for m in TOKEN_RE.finditer(self.texts[fbit].folded)]
            self._tokens[fbit] = starts
        return max(bisect_right(starts, pos) - 1, 0)

    def spans(self, leaves: tuple[int, ...], fbit: int) -> list[tuple[int, int, int]]:
        """(first token, last token, leaf position) of each hit of `leaves` in one field."""
        out = []
        for k, leaf in enumerate(leaves):
            for hbit, start, end, _ in self.hits.get(leaf, ()):
                if hbit == fbit:
                    out.append((self.token_index(fbit, start), self.token_index(fbit, end - 1), k))
        return out


def clause_mask(clause: CClause, scan: Scan) -> int:
    """Bit mask of the fields in which the clause holds."""
    hits = scan.hits
    mask = 0
    if isinstance(clause, CTerm):
        for hit in hits.get(clause.leaf, ()):
            mask |= hit[0]
        return mask
    if isinstance(clause, CProx):
        if not all(leaf in hits for leaf in clause.leaves):
            return 0
    elif not any(leaf in hits for leaf in clause.left) or not any(
        leaf in hits for leaf in clause.right
    ):
        return 0
    for fbit in FIELD_BITS:
        if isinstance(clause, CProx):
            ok = _proximity_holds(scan.spans(clause.leaves, fbit), len(clause.leaves), clause.slop)
        else:
            ok = _near_holds(
                scan.spans(clause.left, fbit), scan.spans(clause.right, fbit), clause.distance
            )
        if ok:
            mask |= fbit
    return mask


def evaluate(node: CNode, scan: Scan, fired: list[tuple[CClause, int]]) -> bool:
    """Truth of `node`; appends to `fired` the clauses that made it true, with fields."""
    if isinstance(node, CTerm | CProx | CNear):
        mask = clause_mask(node, scan)
        if mask:
            fired.append((node, mask))
        return bool(mask)
    hits = scan.hits
    if node.leaves.isdisjoint(hits):
        return node.empty
    if isinstance(node, CNot):
        return not evaluate(node.child, scan, [])
    if isinstance(node, CAnd):
        collected: list[tuple[CClause, int]] = []
        for child in node.children:
            if not evaluate(child, scan, collected):
                return False
        fired.extend(collected)
        return True
    positions: set[int] = set()
    for leaf in hits:
        found = node.index.get(leaf)
        if found is not None:
            positions.update(found)
    # children none of whose terms occur keep their "nothing found" value
    result = node.any_empty_child
    for i in sorted(positions):  # no short cut: every true branch is evidence
        if evaluate(node.children[i], scan, fired):
            result = True
    return result


def _proximity_holds(spans: list[tuple[int, int, int]], k: int, slop: int) -> bool:
    """Some window holds one occurrence of each of the k words, with <= slop other tokens."""
    if len({s[2] for s in spans}) < k:
        return False
    events = sorted(spans)
    counts = [0] * k
    covered = 0
    left = 0
    for right in range(len(events)):
        idx = events[right][2]
        if counts[idx] == 0:
            covered += 1
        counts[idx] += 1
        while covered == k:
            window = events[left : right + 1]
            first = window[0][0]
            last = max(e for _, e, _ in window)
            used: set[int] = set()
            for a, b, _ in window:
                used.update(range(a, b + 1))
            if (last - first + 1) - len(used) <= slop:
                return True
            drop = events[left][2]
            counts[drop] -= 1
            if counts[drop] == 0:
                covered -= 1
            left += 1
    return False


def _near_holds(
    left: list[tuple[int, int, int]], right: list[tuple[int, int, int]], distance: int
) -> bool:
    for ls, le, _ in left:
        for rs, re, _ in right:
            if rs > le:
                gap = rs - le - 1
            elif ls > re:
                gap = ls - re - 1
            else:
                continue  # overlapping occurrences are the same words, not two
            if gap <= distance:
                return True
    return False
