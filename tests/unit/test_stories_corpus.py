"""Pairwise evaluation on the labelled headline corpus (shared/corpus/story-clusters).

Titles only, fed in TIMESTAMP order. The figures are also printed by
bench/stories.py. Skipped when the shared corpus is not beside the project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.stories import StoryGrouper
from bot.stories.evaluation import PairwiseScores, evaluate_clusters, parse_story_clusters

CORPUS = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "corpus"
    / "story-clusters"
    / "uci-news-aggregator-first-6366-rows.csv"
)


@pytest.fixture(scope="module")
def scores() -> PairwiseScores:
    if not CORPUS.exists():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    with CORPUS.open(newline="", encoding="utf-8") as lines:
        labelled = parse_story_clusters(lines)
    assert len(labelled) == 6366
    return evaluate_clusters(labelled, StoryGrouper())


def test_precision_target(scores: PairwiseScores) -> None:
    assert scores.precision >= 0.95


def test_recall_target(scores: PairwiseScores) -> None:
    # Reached at 0.810 (precision 0.956). The margins are thin: the gold stories
    # are coarse topics and neighbouring tunables move both figures by ~1 point.
    assert scores.recall >= 0.80
