"""Prometheus metrics for newsbot, in a registry newsbot owns.

Owns: the metric names, labels and buckets, and small typed recording functions
that take the reports the service already produces (a poll cycle's report, a
drain's report, one sent delivery). Must not: read the clock, the database or
the network; the caller hands in values, so recording is cheap and testable.

A private `CollectorRegistry` (not prometheus-client's global default) keeps
tests independent of each other and keeps library-registered collectors out of
newsbot's output unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST

FEED_STATES = ("ok", "failing", "disabled")
FETCH_OUTCOMES = ("ok", "not-modified", "failed")
DELIVERY_OUTCOMES = ("sent", "failed", "retried", "dropped", "skipped", "held")

# Fetches: a healthy feed answers in well under a second; the tail up to the fetch
# timeout is what shows a slow publisher.
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# From first sight: bounded by the drain interval unless Telegram or a chat's
# settings hold a message back.
SEEN_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# From publication: includes the publisher's own lag and the poll interval, so
# minutes to hours is the interesting range.
PUBLISHED_BUCKETS = (15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
                     21600.0, 86400.0)


class FeedOutcome(Protocol):
    """What metrics need from one feed's result in a cycle report."""

    @property
    def status(self) -> str: ...  # ok | not-modified | failed

    @property
    def new_items(self) -> int: ...


class CycleOutcome(Protocol):
    @property
    def results(self) -> Sequence[FeedOutcome]: ...


class DrainOutcome(Protocol):
    @property
    def sent(self) -> int: ...

    @property
    def retried(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def dropped(self) -> int: ...

    @property
    def skipped(self) -> int: ...

    @property
    def held(self) -> int: ...


class FeedHealth(Protocol):
    @property
    def disabled_reason(self) -> str | None: ...

    @property
    def consecutive_failures(self) -> int: ...


def feed_state(feed: FeedHealth) -> str:
    """ok | failing | disabled, as `newsbot feeds` reports it."""
    if feed.disabled_reason:
        return "disabled"
    return "failing" if feed.consecutive_failures > 0 else "ok"


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Metrics:
    """Every newsbot metric, registered in `self.registry`."""

    def __init__(self, topics: Iterable[str] = (), *, process: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        if process:
            # Memory, CPU and open files of this process: what the soak test watches.
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self.feeds = Gauge("newsbot_feeds", "Configured feeds by state.", ["state"],
                           registry=r)
        self.fetches = Counter("newsbot_fetches", "Feed fetches by outcome.", ["outcome"],
                               registry=r)
        self.fetch_duration = Histogram("newsbot_fetch_duration_seconds",
                                        "Time to fetch one feed.", buckets=FETCH_BUCKETS,
                                        registry=r)
        self.items_new = Counter("newsbot_items_new", "New items stored.", registry=r)
        self.topic_matches = Counter("newsbot_topic_matches", "New items matched, per topic.",
                                     ["topic"], registry=r)
        self.deliveries = Counter("newsbot_deliveries", "Outbox rows settled, by outcome.",
                                  ["outcome"], registry=r)
        self.queue = Gauge("newsbot_outbox_queue", "Deliveries pending or in flight.",
                           registry=r)
        self.rate_limited = Counter("newsbot_telegram_rate_limited",
                                    "429 Too Many Requests answers from Telegram.", registry=r)
        self.latency_published = Histogram(
            "newsbot_delivery_latency_from_published_seconds",
            "From an item's publication time to its alert being sent.",
            buckets=PUBLISHED_BUCKETS, registry=r)
        self.latency_seen = Histogram(
            "newsbot_delivery_latency_from_first_seen_seconds",
            "From newsbot first seeing an item to its alert being sent.",
            buckets=SEEN_BUCKETS, registry=r)
        self.last_cycle = Gauge("newsbot_last_cycle_timestamp_seconds",
                                "When the last poll cycle finished (Unix time).", registry=r)
        self.last_drain = Gauge("newsbot_last_drain_timestamp_seconds",
                                "When the outbox was last drained (Unix time).", registry=r)
        # Create every known series at 0 so rate() and absent() work from the first scrape.
        for state in FEED_STATES:
            self.feeds.labels(state)
        for outcome in FETCH_OUTCOMES:
            self.fetches.labels(outcome)
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome)
        for topic in topics:
            self.topic_matches.labels(topic)

    # ---- poll side ---------------------------------------------------------------
    def observe_cycle(self, report: CycleOutcome, finished_at: datetime | None = None) -> None:
        """Count one cycle's fetch outcomes and new items."""
        for result in report.results:
            self.fetches.labels(result.status).inc()
            if result.new_items:
                self.items_new.inc(result.new_items)
        if finished_at is not None:
            self.last_cycle.set(finished_at.timestamp())

    def observe_fetch(self, duration: timedelta | float) -> None:
        """One fetch's wall time (seconds or a timedelta), whatever its outcome."""
        self.fetch_duration.observe(max(0.0, _seconds(duration)))

    def observe_matches(self, topics: Iterable[str]) -> None:
        """One count per (new item, topic) it matched: pass each new item's slugs."""
        for topic in topics:
            self.topic_matches.labels(topic).inc()

    def set_feed_states(self, feeds: Iterable[FeedHealth]) -> None:
        counts = dict.fromkeys(FEED_STATES, 0)
        for feed in feeds:
            counts[feed_state(feed)] += 1
        for state, n in counts.items():
            self.feeds.labels(state).set(n)

    # ---- delivery side -----------------------------------------------------------
    def observe_drain(self, report: DrainOutcome, finished_at: datetime | None = None) -> None:
        for outcome in DELIVERY_OUTCOMES:
            n: int = getattr(report, outcome)
            if n:
                self.deliveries.labels(outcome).inc(n)
        if finished_at is not None:
            self.last_drain.set(finished_at.timestamp())

    def observe_rate_limited(self, count: int = 1) -> None:
        self.rate_limited.inc(count)

    def observe_delivery(self, published_at: datetime | None, first_seen_at: datetime | None,
                         sent_at: datetime) -> None:
        """One alert sent: end-to-end latency from publication and from first sight.
        A publication time in the future (a publisher's clock) counts as 0."""
        if published_at is not None:
            self.latency_published.observe(max(0.0, (sent_at - published_at).total_seconds()))
        if first_seen_at is not None:
            self.latency_seen.observe(max(0.0, (sent_at - first_seen_at).total_seconds()))

    def set_queue(self, n: int) -> None:
        """Outbox rows still to send (`bot.store.outbox.queue_length`)."""
        self.queue.set(n)

    # ---- exposition --------------------------------------------------------------
    def render(self) -> bytes:
        """The registry in Prometheus text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


if TYPE_CHECKING:
    # mypy proves the protocols above still describe the service's real reports.
    from bot.delivery.outbox import DrainReport
    from bot.pipeline import CycleReport
    from bot.store.feeds import FeedState

    def _conforms(c: CycleReport, d: DrainReport, f: FeedState
                  ) -> tuple[CycleOutcome, DrainOutcome, FeedHealth]:
        return c, d, f
