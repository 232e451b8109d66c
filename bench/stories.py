"""Same-story grouping figures: pairwise P/R/F1 on the labelled corpus, hard-negative
merges, same-story misses and items/second. Figures, not pass/fail.

    .venv/bin/python bench/stories.py [--corpus PATH] [--repeat N]

The corpus is ../shared/corpus/story-clusters/uci-news-aggregator-first-6366-rows.csv
(titles only, fed in TIMESTAMP order). Besides the defaults it prints two
ablations so that the effect of the main design choices stays visible. Corpus items of
tests/data/stories/*.jsonl read their text from ../shared/corpus/news-feeds
(tests/support/corpus.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.stories import StoryGrouper  # noqa: E402
from bot.stories.evaluation import (  # noqa: E402
    evaluate_clusters,
    missed_merges,
    mixed_stream_errors,
    parse_groups,
    parse_story_clusters,
    unwanted_merges,
)
from tests.support.corpus import load_story_lines  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "story-clusters"
CORPUS_FILE = CORPUS / "uci-news-aggregator-first-6366-rows.csv"
DATA = ROOT / "tests" / "data" / "stories"

VARIANTS: list[tuple[str, Callable[[], StoryGrouper]]] = [
    ("defaults", StoryGrouper),
    ("no age penalty (window only)", lambda: StoryGrouper(age_penalty=0.0)),
    ("no story profile (links only)", lambda: StoryGrouper(profile_threshold=2.0)),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_FILE)
    parser.add_argument("--repeat", type=int, default=3, help="timing runs (best is shown)")
    args = parser.parse_args()

    negatives = parse_groups(load_story_lines(DATA / "hard_negatives.jsonl"))
    positives = parse_groups(load_story_lines(DATA / "same_story.jsonl"))
    labelled = (
        parse_story_clusters(args.corpus.open(newline="", encoding="utf-8"))
        if args.corpus.exists()
        else []
    )
    if not labelled:
        print(f"corpus not found: {args.corpus} (only the labelled files are measured)")

    for name, make in VARIANTS:
        print(f"== {name}")
        if labelled:
            best = float("inf")
            scores = None
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                scores = evaluate_clusters(labelled, make())
                best = min(best, time.perf_counter() - started)
            assert scores is not None
            print(
                f"corpus: {len(labelled)} items  precision {scores.precision:.4f}  "
                f"recall {scores.recall:.4f}  F1 {scores.f1:.4f}  "
                f"(pairs: predicted {scores.predicted_pairs}, gold {scores.gold_pairs}, "
                f"true {scores.true_pairs})"
            )
            print(f"speed: {len(labelled) / best:,.0f} items/s (best of {args.repeat})")
        unwanted = unwanted_merges(negatives, make)
        missed = missed_merges(positives, make)
        wrong, missed_mixed = mixed_stream_errors(negatives, positives, make)
        print(
            f"hard negatives: {len(negatives)} groups, "
            f"{sum(len(g.items) for g in negatives)} items, {len(unwanted)} merges"
        )
        for line in unwanted:
            print(f"  merged: {line}")
        print(
            f"same story: {len(positives)} groups, "
            f"{sum(len(g.items) for g in positives)} items, {len(missed)} missed"
        )
        for line in missed:
            print(f"  missed: {line}")
        print(f"one stream of both files: {len(wrong)} wrong merges, {len(missed_mixed)} missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
