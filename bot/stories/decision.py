"""Are two items the same story? Word overlap for, event features against. Pure.

Similarity is a weighted Dice coefficient over informative word stems, each word
weighted by its rarity in the recent stream (IDF): sharing "tariffs" and "China"
says little in a trade-war feed, sharing "Huawei" and "5G" says a lot. Lead text
counts at a fraction of the title's weight.

A conflict vetoes a pair whatever the overlap: different numbers of the same
unit (145% vs 125%), different dates, opposite directions on the same axis
(impose vs lift, raise vs cut), a different actor (China retaliates vs the US
hikes), different countries or goods on each side, different courts, another
legal stage (ruling, appeal, lawsuit, hearing). These are strong. Weak ones
(bare counts, years) and different names (Google vs Nvidia) only count against
near-duplicates; grouping.py decides how much alike a member must be for its
conflict to veto. A missed merge costs one extra alert, a wrong merge hides
news from the subscriber.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.stories.features import Features

Weigher = Callable[[str], float]
_RELATIVE_TOLERANCE = 0.03  # "$1.8bn" vs "$1.83bn" is rounding, 145% vs 125% is not


@dataclass(frozen=True, slots=True)
class Similarity:
    """Word overlap of two items under the current word weights."""

    score: float  # weighted Dice in [0, 1]
    overlap: float  # shared weight / weight of the smaller item, in [0, 1]
    shared: float  # absolute shared weight
    shared_words: tuple[str, ...]


def item_weight(f: Features, weigh: Weigher, lead_factor: float) -> float:
    return sum(weigh(t) for t in f.title) + lead_factor * sum(weigh(t) for t in f.lead)


def similarity(
    a: Features,
    b: Features,
    weigh: Weigher,
    lead_factor: float,
    weights: tuple[float, float] | None = None,
) -> Similarity:
    """Weighted Dice of two items; `weights` passes their total weights when known."""
    shared = 0.0
    words: list[str] = []
    for t in _shared(a.title | a.lead, b.title | b.lead):
        in_both_titles = t in a.title and t in b.title
        shared += weigh(t) * (1.0 if in_both_titles else lead_factor)
        words.append(t)
    if weights is None:
        weights = (item_weight(a, weigh, lead_factor), item_weight(b, weigh, lead_factor))
    wa, wb = weights
    if shared <= 0.0 or wa <= 0.0 or wb <= 0.0:
        return Similarity(0.0, 0.0, 0.0, ())
    return Similarity(
        score=min(1.0, 2.0 * shared / (wa + wb)),
        overlap=min(1.0, shared / min(wa, wb)),
        shared=shared,
        shared_words=tuple(sorted(words)),
    )


def _shared(a: frozenset[str], b: frozenset[str]) -> Iterable[str]:
    return a & b


# Bare counts and years ("5 reasons", "Season 18", "2014") differ between
# headlines of one story all the time; they only count against near-duplicates.
WEAK_UNITS = frozenset({"num", "year"})


@dataclass(frozen=True, slots=True)
class Conflict:
    reason: str
    strong: bool  # weak conflicts only veto pairs that are otherwise near-identical
    kind: str = ""  # "names": different people or companies, vetoes at medium similarity

    def __str__(self) -> str:
        return self.reason


def conflicts(a: Features, b: Features) -> list[Conflict]:
    """Reasons the two items report different events; empty when none is seen."""
    reasons: list[Conflict] = []
    for unit in {u for u, _ in a.numbers} & {u for u, _ in b.numbers}:
        va = [v for u, v in a.numbers if u == unit]
        vb = [v for u, v in b.numbers if u == unit]
        if not any(_close(x, y) for x in va for y in vb):
            reasons.append(
                Conflict(
                    f"numbers differ ({unit}: {_fmt(va)} vs {_fmt(vb)})", unit not in WEAK_UNITS
                )
            )
    for prefix in ("day:", "weekday:"):
        da = {d for d in a.dates if d.startswith(prefix)}
        db = {d for d in b.dates if d.startswith(prefix)}
        if da and db and not da & db:
            reasons.append(Conflict(f"dates differ ({sorted(da)} vs {sorted(db)})", True))
    axes_a = {axis for axis, _ in a.stances}
    for axis in axes_a & {axis for axis, _ in b.stances}:
        pa = {p for x, p in a.stances if x == axis}
        pb = {p for x, p in b.stances if x == axis}
        # Mixed headlines ("tariffs rise, stocks fall") say both; only clean differences count.
        if len(pa) == 1 and len(pb) == 1 and pa != pb:
            reasons.append(Conflict(f"opposite direction ({axis})", True))
    if a.actor and b.actor and a.actor != b.actor:
        reasons.append(Conflict(f"different actor ({a.actor} vs {b.actor})", True))
    if a.countries - b.countries and b.countries - a.countries:
        only_a = sorted(a.countries - b.countries)
        only_b = sorted(b.countries - a.countries)
        reasons.append(Conflict(f"different countries ({only_a} vs {only_b})", True))
    if a.sectors - b.sectors and b.sectors - a.sectors:
        only_a = sorted(a.sectors - b.sectors)
        only_b = sorted(b.sectors - a.sectors)
        reasons.append(Conflict(f"different goods ({only_a} vs {only_b})", True))
    if a.courts and b.courts and not a.courts & b.courts:
        courts = f"{sorted(a.courts)} vs {sorted(b.courts)}"
        reasons.append(Conflict(f"different courts ({courts})", True))
    only_a_names = a.entities - b.title - b.lead
    only_b_names = b.entities - a.title - a.lead
    if only_a_names and only_b_names:
        reasons.append(
            Conflict(
                f"different names ({sorted(only_a_names)} vs {sorted(only_b_names)})",
                strong=False,
                kind="names",
            )
        )
    if a.legal_stage and b.legal_stage and a.legal_stage != b.legal_stage:
        reasons.append(Conflict(f"legal stage ({a.legal_stage} vs {b.legal_stage})", True))
    return reasons


def _close(x: float, y: float) -> bool:
    return abs(x - y) <= _RELATIVE_TOLERANCE * max(abs(x), abs(y))


def _fmt(values: list[float]) -> str:
    return ",".join(f"{v:g}" for v in sorted(values))
