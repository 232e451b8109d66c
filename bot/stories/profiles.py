"""Story word profiles and the word weights derived from them. Pure.

A profile is the sum of a story's members' words (title words count 1, lead
words `lead_factor`), so an item can be compared with a story as a whole, not
only with its members one by one. Word weights are IDF over stories: how many
live stories use a word, not how many items. A word that one big story repeats
("Bachelor") stays informative; a word that many stories use ("tariffs" in a
trade-war feed) does not.

Everything is kept incrementally: adding or forgetting an item, or merging two
stories, costs time in the number of its words, not of the story's size.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from bot.stories.features import Features


@dataclass(slots=True)
class StoryProfile:
    words: dict[str, float] = field(default_factory=dict)
    size: int = 0
    last_at: datetime | None = None  # the latest member's published_at
    norm_sq: float = 0.0  # sum of (weight * count)^2, kept incrementally
    norm_size: int = 0  # size when norm_sq was last recomputed exactly
    names: Counter[str] = field(default_factory=Counter)  # members naming each name


class StoryProfiles:
    """The profiles of the live stories, keyed by story id."""

    def __init__(self, lead_factor: float, idf_floor: int) -> None:
        self.lead_factor = lead_factor
        self.idf_floor = idf_floor  # stories assumed while fewer are live
        self.epoch = 0  # bumped whenever all weights change; callers cache by it
        self._profiles: dict[str, StoryProfile] = {}
        self._story_freq: Counter[str] = Counter()
        self._weights: dict[str, float] = {}
        self._n_stories = idf_floor

    def __len__(self) -> int:
        return len(self._profiles)

    def __getitem__(self, story: str) -> StoryProfile:
        return self._profiles[story]

    def __contains__(self, story: object) -> bool:
        return story in self._profiles

    def story_freq(self, word: str) -> int:
        return self._story_freq.get(word, 0)

    def weigh(self, word: str) -> float:
        # Cached: weights are read tens of thousands of times per second. A word's
        # entry is dropped when its story count changes; all are dropped when the
        # number of stories has moved by 2% (log(1.02) is noise for an IDF).
        w = self._weights.get(word)
        if w is None:
            w = math.log((self._n_stories + 1) / (self._story_freq.get(word, 0) + 1))
            self._weights[word] = w
        return w

    def word_shares(self, f: Features) -> list[tuple[str, float]]:
        return [(t, 1.0) for t in f.title] + [(t, self.lead_factor) for t in f.lead]

    def add(self, story: str, f: Features, published_at: datetime) -> None:
        profile = self._profiles.setdefault(story, StoryProfile())
        for t, share in self.word_shares(f):
            n = profile.words.get(t, 0.0)
            if not n:
                self._count_word(t, 1)
            profile.words[t] = n + share
            profile.norm_sq += self.weigh(t) ** 2 * (2 * n * share + share * share)
        profile.names.update(f.entities)
        profile.size += 1
        if profile.last_at is None or published_at > profile.last_at:
            profile.last_at = published_at
        self._refresh()

    def forget(self, story: str, f: Features) -> None:
        profile = self._profiles.get(story)
        if profile is None:
            return
        for t, share in self.word_shares(f):
            n = profile.words.get(t, 0.0) - share
            if n > 1e-9:
                profile.words[t] = n
                continue
            profile.words.pop(t, None)
            self._count_word(t, -1)
        profile.names.subtract(f.entities)
        profile.size -= 1
        profile.norm_size = 0  # recompute the norm on next use
        if profile.size <= 0:
            del self._profiles[story]
        self._refresh()

    def merge(self, other: str, into: str) -> None:
        if other == into or other not in self._profiles:
            return
        source, target = self._profiles.pop(other), self._profiles[into]
        for t, n in source.words.items():
            if t in target.words:
                self._count_word(t, -1)
            target.words[t] = target.words.get(t, 0.0) + n
        target.names.update(source.names)
        target.size += source.size
        target.norm_size = 0
        if source.last_at and (target.last_at is None or source.last_at > target.last_at):
            target.last_at = source.last_at
        self._refresh()

    def core_names(self, story: str, share: float, min_size: int) -> frozenset[str]:
        """Names that at least `share` of the story's members carry (none while small)."""
        profile = self._profiles.get(story)
        if profile is None or profile.size < min_size:
            return frozenset()
        needed = share * profile.size
        return frozenset(name for name, n in profile.names.items() if n >= needed)

    def cosine(self, f: Features, story: str) -> float:
        """Cosine between an item's weighted words and the story's profile."""
        profile = self._profiles.get(story)
        if profile is None or profile.size <= 0:
            return 0.0
        if profile.size >= 2 * profile.norm_size:
            # Weights drift as the window moves; an exact recompute whenever the
            # story doubles keeps the incremental norm honest at O(1) amortised.
            profile.norm_sq = sum((self.weigh(t) * n) ** 2 for t, n in profile.words.items())
            profile.norm_size = profile.size
        dot = 0.0
        item_sq = 0.0
        for t, share in self.word_shares(f):
            w = self.weigh(t)
            x = share * w
            item_sq += x * x
            dot += x * w * profile.words.get(t, 0.0)
        if dot <= 0.0 or profile.norm_sq <= 0.0:
            return 0.0
        return min(1.0, dot / math.sqrt(item_sq * profile.norm_sq))

    def stories_cosine(self, a: str, b: str) -> float:
        """Cosine between two stories' profiles (rare: only when merging)."""
        pa, pb = self._profiles[a], self._profiles[b]
        small, large = (pa, pb) if len(pa.words) <= len(pb.words) else (pb, pa)
        dot = sum(self.weigh(t) ** 2 * n * large.words.get(t, 0) for t, n in small.words.items())
        if dot <= 0.0:
            return 0.0
        norm_a = sum((self.weigh(t) * n) ** 2 for t, n in pa.words.items())
        norm_b = sum((self.weigh(t) * n) ** 2 for t, n in pb.words.items())
        return min(1.0, dot / math.sqrt(norm_a * norm_b))

    def _count_word(self, word: str, delta: int) -> None:
        count = self._story_freq[word] + delta
        if count > 0:
            self._story_freq[word] = count
        else:
            del self._story_freq[word]
        self._weights.pop(word, None)

    def _refresh(self) -> None:
        n = max(len(self._profiles), self.idf_floor)
        if abs(n - self._n_stories) > 0.02 * self._n_stories:
            self._n_stories = n
            self._weights.clear()
            self.epoch += 1
