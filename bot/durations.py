"""Human durations ("30s", "5m", "1h30m", "3d") <-> timedelta. Pure."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "5m", "1h30m", "3d", "2w". Raises ValueError with a hint."""
    if not isinstance(text, str) or not _WHOLE.match(text.lower()):
        raise ValueError(f"not a duration: {text!r} (use e.g. '30s', '5m', '1h', '1h30m', '3d')")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text.lower()))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration, for messages: 5400s -> "1h30m"."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
