"""The event loop and the threads beside it (feed parsing, database drivers) share one
interpreter lock (GIL).

Why: when the loop wants the lock back from the parse thread, which runs feedparser in
pure Python, it waits up to the switch interval (5 ms by default) each time; a loop
callback that lets go of the lock many times (sockets, zlib, starting a driver thread)
paid that wait again and again. In a 1,000-feed first cycle the worst loop stall was
43-145 ms; with 1 ms it was 23-25 ms, for ~1% more CPU and no slower cycle
(bench/poll.py, three runs each).
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL = 0.001  # seconds


def favour_the_event_loop(interval: float = SWITCH_INTERVAL) -> float:
    """Let a thread that waits for the lock get it after `interval`; returns the old one."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    return previous
