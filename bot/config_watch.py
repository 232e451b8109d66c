"""Watching the config file for hot reload: notice a change, validate it, and
report the result once (a broken edit is reported once, not on every check).

Owns change detection and the once-only rule; the service applies a good config.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot import config as config_module
from bot.config import AppConfig
from bot.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A change that does not validate; `new` is False when it was already reported."""

    error: str
    new: bool


class ConfigWatcher:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature = self._stat()
        self._last_error: str | None = None

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def check(self) -> AppConfig | Rejected | None:
        """None: unchanged. AppConfig: a valid new config. Rejected: an invalid change."""
        signature = self._stat()
        if signature == self._signature:
            return None
        self._signature = signature
        try:
            new = config_module.load(self.path)
        except ConfigError as exc:
            error = str(exc)
            fresh = error != self._last_error
            self._last_error = error
            return Rejected(error, fresh)
        self._last_error = None
        return new
