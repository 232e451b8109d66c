"""Same-story handling: canonical URLs, item keys, same-story grouping. Pure.

No network, no database, no clock (times are parameters), no environment.
"""

from bot.stories.grouping import StoryCandidate, StoryGrouper
from bot.stories.keys import item_key, text_identity
from bot.stories.urls import canonical_url, resolve_source_url, url_identity

__all__ = [
    "StoryCandidate",
    "StoryGrouper",
    "canonical_url",
    "item_key",
    "resolve_source_url",
    "text_identity",
    "url_identity",
]
