"""Find every term occurrence in an item: one Aho-Corasick pass per field.

The automaton holds every variant key of every term of every topic; each raw
occurrence is then checked against its entries (field scope, word boundaries, the CJK
guard, case) and recorded as a hit of the term (leaf) it belongs to. A field written
in traditional Chinese may have a second reading (Taiwan vocabulary, see `chinese`),
searched too: it has the same length, so its hits share the field's positions once
confirmed (see `chinese.TaiwanReading`), and a hit found in both readings is recorded
once.
Pure: no I/O.
"""

from __future__ import annotations

from ahocorasick_rs import AhoCorasick, Implementation

from bot.matching.charclass import HAN_RE, is_word_char
from bot.matching.cjk import Segments, han_edges_ok, katakana_edges_ok
from bot.matching.compiler import EDGE_HAN, EDGE_KATAKANA, EDGE_WORD, Compiled
from bot.matching.evaluate import SUMMARY, TITLE, RawHit, Scan
from bot.matching.normalize import SUMMARY_CAP, TITLE_CAP, NormText, normalize_text

MAX_HITS_PER_LEAF = 64  # bounds work and memory on hostile text ("us us us ...")
MAX_WILDCARD_WORD = 64
DFA_MAX_KEYS = 20_000

# (field bit, field, the text searched: its folded text or its Taiwan reading, occurrences)
Pass = tuple[int, NormText, str, list[tuple[int, int, int]]]


class Scanner:
    """The pattern table of a compiled config and the checks behind each key."""

    def __init__(self, compiled: Compiled) -> None:
        self._entries = compiled.entries
        self._trigger_keys = compiled.trigger_keys
        self._trigger_leaves = compiled.trigger_leaves
        self._ac: AhoCorasick | None = None
        # Chinese folding (see `normalize`) only matters to a key with Han characters
        self._chinese = any(HAN_RE.search(key) for key in compiled.keys)
        if compiled.keys:
            # A DFA scans ~30% faster than the default NFA; its memory grows with the
            # number of keys, so very large configs keep the library's own choice.
            dfa = Implementation.DFA if len(compiled.keys) <= DFA_MAX_KEYS else None
            self._ac = AhoCorasick(compiled.keys, implementation=dfa)

    def scan(self, title: str, summary: str, *, gated: bool = False) -> Scan:
        """Normalise both fields and find every term occurrence.

        `gated`: stop early (no hits) when no key that could make a topic true occurs;
        context words alone (`China`, `US`) then cost no further work. `explain` scans
        ungated to report every term.
        """
        title_nt = normalize_text(title, TITLE_CAP, chinese=self._chinese)
        summary_nt = normalize_text(summary, SUMMARY_CAP, chinese=self._chinese)
        texts = {TITLE: title_nt, SUMMARY: summary_nt}
        hits: dict[int, list[RawHit]] = {}
        if self._ac is None:
            return Scan(texts, hits)
        passes: list[Pass] = [
            (TITLE, title_nt, title_nt.folded, self._find(title_nt)),
            (SUMMARY, summary_nt, summary_nt.folded, self._find(summary_nt)),
        ]
        if title_nt.taiwan is not None or summary_nt.taiwan is not None:
            passes += self._find_taiwan(title_nt, summary_nt)
        if not gated:
            # In field order (a stable sort: each field's own text before its Taiwan
            # reading), so hits come out title first.
            for fbit, nt, text, found in sorted(passes, key=lambda p: p[0]):
                self._collect(fbit, nt, text, found, hits)
            return Scan(texts, hits)
        # First the occurrences that could make a topic true, fully checked; the rest
        # (context words, negated terms) only if one of those survived. Most items stop
        # here, having paid for normalisation and one automaton pass per field.
        keys = self._trigger_keys
        first = [(fbit, nt, text, [f for f in found if f[0] in keys])
                 for fbit, nt, text, found in passes]
        if not any(found for _, _, _, found in first):
            return Scan(texts, hits)
        for fbit, nt, text, found in first:
            self._collect(fbit, nt, text, found, hits)
        if self._trigger_leaves.isdisjoint(hits):
            hits.clear()
            return Scan(texts, hits)
        for fbit, nt, text, found in passes:
            self._collect(fbit, nt, text, [f for f in found if f[0] not in keys], hits)
        return Scan(texts, hits)

    def _find(self, nt: NormText) -> list[tuple[int, int, int]]:
        assert self._ac is not None
        if not nt.folded:
            return []
        try:
            return self._ac.find_matches_as_indexes(nt.folded, overlapping=True)
        except UnicodeEncodeError:  # lone surrogates; replacing them keeps positions
            nt.sanitize()
            return self._ac.find_matches_as_indexes(nt.folded, overlapping=True)

    def _find_taiwan(self, title: NormText, summary: NormText) -> list[Pass]:
        """The occurrences in the Taiwan readings of the fields that have one."""
        assert self._ac is not None
        out: list[Pass] = []
        for fbit, nt in ((TITLE, title), (SUMMARY, summary)):
            if nt.taiwan is not None:  # made without lone surrogates (see `chinese`)
                found = self._ac.find_matches_as_indexes(nt.taiwan, overlapping=True)
                out.append((fbit, nt, nt.taiwan, found))
        return out

    def _collect(
        self,
        fbit: int,
        nt: NormText,
        text: str,
        found: list[tuple[int, int, int]],
        hits: dict[int, list[RawHit]],
    ) -> None:
        """Check each raw occurrence (boundaries, CJK guard, case) and record the hits."""
        if not found:
            return
        again = text is not nt.folded  # the Taiwan reading: see `NormText.confirms_taiwan`
        n = len(text)
        entries = self._entries
        segments: Segments = {}
        for pattern, start, end in found:
            for leaf, fields, left, right, checks, prefix, shown in entries[pattern]:
                if not fields & fbit:
                    continue
                # word boundaries, inlined (hot): a letter or digit of a spaced script
                # (below U+3040, or not Han/kana) must not touch the match
                if left == EDGE_WORD and start > 0:
                    ch = text[start - 1]
                    if ch.isalnum() and (ch < "\u3040" or is_word_char(ch)):
                        continue
                if right == EDGE_WORD and end < n:
                    ch = text[end]
                    if ch.isalnum() and (ch < "\u3040" or is_word_char(ch)):
                        continue
                if EDGE_HAN in (left, right) and not han_edges_ok(
                    text, start, end, segments, left=left == EDGE_HAN, right=right == EDGE_HAN
                ):
                    continue
                if EDGE_KATAKANA in (left, right) and not katakana_edges_ok(
                    text, start, end, left == EDGE_KATAKANA, right == EDGE_KATAKANA
                ):
                    continue
                if checks and not _case_ok(nt, start, checks):
                    continue
                stop = end
                found_text = shown
                if prefix:
                    # report the whole word a wildcard matched ("tariffs" for tariff*)
                    while stop < n and stop - start < MAX_WILDCARD_WORD and is_word_char(
                        text[stop]
                    ):
                        stop += 1
                    found_text = text[start:stop]
                bucket = hits.get(leaf)
                if again and (
                    (bucket and any(h[:3] == (fbit, start, stop) for h in bucket))
                    or not nt.confirms_taiwan(start, stop)
                ):
                    continue
                if bucket is None:
                    hits[leaf] = [(fbit, start, stop, found_text)]
                elif len(bucket) < MAX_HITS_PER_LEAF:
                    bucket.append((fbit, start, stop, found_text))


def _case_ok(nt: NormText, start: int, checks: tuple[tuple[int, str], ...]) -> bool:
    for offset, exact in checks:
        a = start + offset
        if nt.cased_slice(a, a + len(exact)) != exact:
            return False
    return True
