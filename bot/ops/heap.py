"""The garbage collector, the C allocator and a long-running service.

Why: a full (generation 2) collection walks every container object alive, and most of a
started bot's ~130,000 are modules, classes and the compiled config that live as long as
the process. Each full collection took ~95 ms here (bench/poll.py, gc callbacks), long
enough to delay Telegram updates and show as the worst event-loop stall of a cycle.
"""

from __future__ import annotations

import ctypes
import gc

_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
MALLOC_ARENAS = 2


def settle_heap() -> int:
    """Collect once, then move every object alive now out of the collector's reach
    (`gc.freeze`): later collections walk only what was made after start. Call once,
    when start-up is done; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def freeze_survivors() -> int:
    """After a poll cycle: collect the young generations (a few ms), then move what is
    still alive out of the collector's reach too. Returns how many objects are frozen.

    Why: what a cycle leaves alive is long-lived state (the story window's items, each
    feed's seen items and parsed URL), and every full collection walked all of it again
    to free a few dozen objects: 110-160 ms with 5,000 feeds, the worst stall of a
    cycle (bench/poll.py --stall-stacks). Frozen objects are still freed the moment
    their last reference goes; only garbage *cycles* among them wait for `sweep_frozen`.
    """
    gc.collect(1)
    gc.freeze()
    return gc.get_freeze_count()


def sweep_frozen() -> int:
    """Once a day: give every frozen object back to the collector, collect everything
    once (reference cycles that died while frozen), and freeze the survivors again.
    One full collection's pause a day, start-up objects included (~50 ms at 1,000
    feeds, bench/poll.py). Returns the objects freed."""
    gc.unfreeze()
    freed = gc.collect()
    gc.freeze()
    return freed


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX does), before threads start.

    Why: each thread that meets a busy arena gets its own (up to 8 per core), and the
    driver threads, the parse thread and the event loop each keep freed memory in theirs:
    a 1,000-feed first cycle peaked ~7-10 MB higher with glibc's default
    (bench/poll.py). Two arenas cost nothing measurable here: the threads rarely
    allocate at the same moment. False where there is no glibc (musl, macOS)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(arenas)))
