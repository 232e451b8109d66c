"""settle_heap: what is alive at start-up leaves the collector's reach; later garbage
cycles are still collected."""

from __future__ import annotations

import gc
import weakref

from bot.ops.heap import settle_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_start_up_objects_are_frozen_and_later_cycles_still_collected() -> None:
    try:
        frozen = settle_heap()
        assert frozen > 1_000 and gc.get_freeze_count() == frozen
        later = Node()
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()  # leave the test process as it was
