"""The switch interval newsbot sets so the event loop gets the interpreter lock back
quickly from the parse thread."""

import sys

from bot.ops.gil import SWITCH_INTERVAL, favour_the_event_loop


def test_the_switch_interval_is_shortened_and_the_old_one_returned() -> None:
    before = sys.getswitchinterval()
    try:
        assert favour_the_event_loop() == before
        assert abs(sys.getswitchinterval() - SWITCH_INTERVAL) < 1e-9
    finally:
        sys.setswitchinterval(before)
