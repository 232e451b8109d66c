"""settle_heap: what is alive at start-up leaves the collector's reach; later garbage
cycles are still collected."""

from __future__ import annotations

import gc
import platform
import weakref

import pytest

from bot.ops.heap import limit_malloc_arenas, settle_heap


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


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_arenas_are_capped_with_glibc() -> None:
    assert limit_malloc_arenas(8) is True  # the process default on 1 core: harmless here
