"""The garbage collector and a long-running service.

Why: a full (generation 2) collection walks every container object alive, and most of a
started bot's ~130,000 are modules, classes and the compiled config that live as long as
the process. Each full collection took ~95 ms here (bench/poll.py, gc callbacks), long
enough to delay Telegram updates and show as the worst event-loop stall of a cycle.
"""

from __future__ import annotations

import gc


def settle_heap() -> int:
    """Collect once, then move every object alive now out of the collector's reach
    (`gc.freeze`): later collections walk only what was made after start. Call once,
    when start-up is done; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
