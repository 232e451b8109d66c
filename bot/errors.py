"""One exception tree for the whole product.

Errors that cross a feed or delivery boundary are usually returned as values
(see `bot.feeds.fetch.FetchError`); these exceptions are for the cases where the
caller cannot go on (bad config, broken store) or for the I/O shell to map.
"""

from __future__ import annotations

from dataclasses import dataclass


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in the config file, with its place (`topics.tariffs.query`)."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message


class ConfigError(NewsbotError):
    """The config file is unusable; carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class QueryError(NewsbotError):
    """A topic query does not parse. `column` is 1-based within the query string."""

    def __init__(self, message: str, column: int) -> None:
        self.message = message
        self.column = column
        super().__init__(f"column {column}: {message}")


class StoreError(NewsbotError):
    """The database cannot be opened, migrated or used."""


class DeliveryError(NewsbotError):
    """A message could not be delivered and will not be retried."""


class AlreadyRunningError(NewsbotError):
    """Another `newsbot run` holds the lease on this database."""


class StartupError(NewsbotError):
    """The service cannot start (e.g. Telegram rejects the token)."""
