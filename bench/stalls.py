"""Where the event loop is when it stalls: a watchdog thread samples the loop thread's
stack while the loop's ticker is late, and counts samples per stack.

Why: the stall column says how long the loop was blocked, not by what; a profiler says
where time went, not which single callback ran for 200 ms. Sampling only during stalls
answers exactly that, at the cost of one thread waking every few milliseconds.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import traceback
from collections import Counter

SAMPLE_EVERY = 0.005  # seconds between the watchdog's looks
STACK_DEPTH = 14  # innermost frames kept per sample


class StallSampler:
    """`beat()` from the loop (the ticker); `start()`/`stop()` around the work."""

    def __init__(self, threshold_ms: float, period: float = 0.010) -> None:
        self._late_after = period + threshold_ms / 1000
        self._loop_thread = threading.get_ident()  # create it on the loop's thread
        self._last_beat = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-sampler", daemon=True)
        self.samples: Counter[tuple[str, ...]] = Counter()
        # A collection holds the GIL throughout, so the watchdog cannot sample it: the
        # collector's own callbacks time it instead.
        self._threshold = threshold_ms / 1000
        self._gc_started = 0.0
        self.gc_pauses: list[tuple[int, float, int]] = []  # (generation, seconds, objects)

    def beat(self) -> None:
        self._last_beat = time.perf_counter()

    def start(self) -> None:
        self.beat()
        gc.callbacks.append(self._on_gc)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        took = time.perf_counter() - self._gc_started
        if took >= self._threshold / 2:
            self.gc_pauses.append((info["generation"], took, info["collected"]))

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            if time.perf_counter() - self._last_beat < self._late_after:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            if frame is not None:
                stack = traceback.extract_stack(frame)[-STACK_DEPTH:]
                self.samples[tuple(f"{_short(f.filename)}:{f.lineno} {f.name}"
                                   for f in stack)] += 1

    def report(self, top: int = 8) -> str:
        """The most sampled stacks, innermost frame last; each sample ~5 ms of stall."""
        lines = [f"  collection over {self._threshold * 500:.0f} ms: generation {g}, "
                 f"{took * 1000:.0f} ms, {collected} objects freed"
                 for g, took, collected in self.gc_pauses]
        total = sum(self.samples.values())
        if not total:
            return "\n".join([*lines, "  no stall samples"])
        lines.append(f"  {total} samples (~{SAMPLE_EVERY * 1000:.0f} ms each) while "
                     "stalled; top stacks, innermost last:")
        for stack, count in self.samples.most_common(top):
            lines.append(f"  {count} samples:")
            lines += [f"      {frame}" for frame in stack]
        return "\n".join(lines)


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/bot/", "/bench/", "/lib/python"):
        if marker in path:
            return marker.strip("/") + "/" + path.split(marker, 1)[1]
    return path
