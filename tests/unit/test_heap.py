"""settle_heap: what is alive at start-up leaves the collector's reach; later garbage
cycles are still collected."""

from __future__ import annotations

import gc
import platform
import weakref

import pytest

from bot.ops.heap import freeze_survivors, limit_malloc_arenas, settle_heap, sweep_frozen


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


class Leaf:
    pass


def test_survivors_of_a_cycle_are_frozen_and_still_freed_when_dropped() -> None:
    try:
        state = [Leaf() for _ in range(100)]  # what a poll cycle leaves alive
        dead = Node()  # a garbage cycle the cycle left behind: collected, not frozen
        dead_ref = weakref.ref(dead)
        del dead
        frozen = freeze_survivors()
        assert dead_ref() is None
        assert frozen >= 100 and gc.get_freeze_count() == frozen
        gen2_before = len(gc.get_objects(generation=2))
        assert not any(o is state for o in gc.get_objects())  # out of the collector's reach
        gone = weakref.ref(state[0])
        state.clear()  # dropped: freed by its reference count, frozen or not
        assert gone() is None
        assert len(gc.get_objects(generation=2)) <= gen2_before
    finally:
        gc.unfreeze()


def test_a_cycle_that_died_frozen_is_collected_by_the_daily_sweep() -> None:
    try:
        node = Node()
        gone = weakref.ref(node)
        freeze_survivors()
        del node
        gc.collect()
        assert gone() is not None  # frozen garbage: full collections skip it
        assert sweep_frozen() >= 1
        assert gone() is None
        assert gc.get_freeze_count() > 0  # the survivors are frozen again
    finally:
        gc.unfreeze()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_arenas_are_capped_with_glibc() -> None:
    assert limit_malloc_arenas(8) is True  # the process default on 1 core: harmless here
